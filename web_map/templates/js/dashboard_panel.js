/* The dashboard's side panel: fit the map to the area, sort the KPI table by a clicked
   header, zoom to a clicked row's grid and outline it on ``outline`` (if given). */
function gridmapDashPanel(map, bounds, outline) {
  // Fit below the layer control (top right), so it hides none of the grids;
  // deferred: the control is created by a later script.
  map.fitBounds(bounds, {animate: false});
  setTimeout(function () {
    var ctl = document.querySelector(".leaflet-control-layers");
    var top = ctl ? Math.min(ctl.offsetHeight + 10, map.getSize().y / 3) : 10;
    map.fitBounds(bounds,
      {paddingTopLeft: [10, top], paddingBottomRight: [10, 70], animate: false});
  }, 0);
  var table = document.getElementById("dash-kpi");
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  var picked = null;
  table.tHead.addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) { return; }
    var idx = th.cellIndex, num = th.dataset.type === "num";
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending"
      : (th.getAttribute("aria-sort") === "ascending" ? "descending"
      : (num ? "descending" : "ascending"));
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[idx].dataset.v, y = b.cells[idx].dataset.v;
      return sign * (num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "zh"));
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
  body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr");
    if (!tr) { return; }
    var old = body.querySelector("tr.selected");
    if (old) { old.classList.remove("selected"); }
    tr.classList.add("selected");
    map.fitBounds(JSON.parse(tr.dataset.bounds), {maxZoom: 16, padding: [40, 40]});
    if (!outline) { return; }
    if (picked) { outline.resetStyle(picked); picked = null; }
    outline.eachLayer(function (layer) {
      if (layer.feature.properties.code === tr.dataset.code) { picked = layer; }
    });
    if (picked) {
      if (!map.hasLayer(outline)) { map.addLayer(outline); }
      picked.setStyle({color: "#000000", weight: 4, opacity: 1});
      picked.bringToFront();
    }
  });
}
