/* The dashboard's helpers and layers over the page's data, ``gridmapDash`` (written
   just before this script): colour classes, tooltips, one factory per map layer, the
   compounds' clusters and the day slider. Colour classes come from Python as
   {uppers, colors, none}: a value takes the first colour whose upper bound is greater. */
var D = gridmapDash;
D.classify = function (v, s) {
  if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) { return s.none; }
  if (s.zero_none && v <= 0) { return null; }
  for (var i = 0; i < s.uppers.length; i++) { if (v < s.uppers[i]) { return s.colors[i]; } }
  return s.colors[s.colors.length - 1];
};
D.num = function (v, digits) {
  return (v === null || v === undefined) ? "—" : Number(v).toFixed(digits);
};
D.signed = function (v) { return v > 0 ? "+" + v : String(v); };
D.table = function (rows) {
  return '<table class="dash-tip">' + rows.map(function (r) {
    return "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>"; }).join("") + "</table>";
};
D.days = function (v) {
  return (v === null || v === undefined) ? D.L.never : v + " " + D.L.days_unit;
};
D.gridTip = function (p) {
  var L = D.L;
  return D.table([
    [L.code, p.code], [L.name, p.name], [L.worker, p.worker || L.no_worker],
    [L.incidents, p.inc + " (" + L.vs_previous + " " + D.signed(p.chg) + ")"],
    [L.rate, D.num(p.r1000, 1)],
    [L.coverage, p.cov === null ? "—" : (100 * p.cov).toFixed(1) + "%"],
    [L.since_visit, D.days(p.dsv)],
    [L.unowned, p.uo + " · " + D.num(p.ukm, 1) + " " + L.per_km2 + " · "
      + D.num(p.u1000, 1) + " " + L.per_1000]]);
};
D.hover = function (layer, base) {
  layer.on("mouseover", function () { layer.setStyle({weight: 2.5, color: "#000000"}); });
  layer.on("mouseout", function () { layer.setStyle(base); });
};
D.gridLayer = function (key, scale, pane) {
  return L.geoJson(D.grids, {
    pane: pane,
    style: function (f) {
      var c = D.classify(f.properties[key], D.scales[scale]);
      return {color: "#737373", weight: 0.6, opacity: 0.9, fillColor: c || "#ffffff",
              fillOpacity: c ? 0.8 : 0};
    },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(function () { return D.gridTip(f.properties); }, {sticky: true});
      D.hover(layer, {weight: 0.6, color: "#737373"});
    }
  });
};
D.cellTip = function (p) {
  var L = D.L, rows = [[L.cell, p.cell], [L.incidents, p.n],
    [L.previous, p.p], [L.change, D.signed(p.n - p.p)]];
  if (D.day !== null) { rows.push([D.days_labels[D.day], D.dayCount(p.cell, D.day)]); }
  return D.table(rows);
};
D.day = null;
D.dayCount = function (cell, day) {
  var d = D.daily[cell];
  if (!d) { return 0; }
  for (var i = 0; i < d.length; i += 2) { if (d[i] === day) { return d[i + 1]; } }
  return 0;
};
D.heatStyle = function (f) {
  var n = D.day === null ? f.properties.n : D.dayCount(f.properties.cell, D.day);
  var c = n > 0 ? D.classify(n, D.day === null ? D.scales.heat : D.scales.daily) : null;
  return {color: "#ffffff", weight: 0.4, fillColor: c || "#ffffff",
          fillOpacity: c ? 0.8 : 0, opacity: c ? 1 : 0};
};
D.outlineLayer = function () {
  return L.geoJson(gridmapDash.grids, {
    pane: "dash-outline",
    style: function () { return {color: "#525252", weight: 0.8, opacity: 0.9, fillOpacity: 0}; },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(function () { return gridmapDash.gridTip(f.properties); }, {sticky: true});
      gridmapDash.hover(layer, {weight: 0.8, color: "#525252"});
    }
  });
};
D.noWorkerLayer = function () {
  return L.geoJson(gridmapDash.grids, {
    pane: "dash-no_worker",
    filter: function (f) { return !f.properties.hw; },
    style: function () {
      return {color: gridmapDash.colors.no_worker, weight: 3.5, dashArray: "8 5", fill: false};
    },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(function () { return gridmapDash.gridTip(f.properties); }, {sticky: true});
    }
  });
};
D.heatLayer = function () {
  return L.geoJson(gridmapDash.heat, {
    pane: "dash-heat",
    filter: function (f) { return f.properties.n > 0; },
    style: gridmapDash.heatStyle,
    onEachFeature: function (f, layer) {
      layer.bindTooltip(function () { return gridmapDash.cellTip(f.properties); }, {sticky: true});
    }
  });
};
D.risingLayer = function () {
  return L.geoJson(gridmapDash.heat, {
    pane: "dash-rising",
    filter: function (f) { return f.properties.up; },
    style: function () {
      return {color: gridmapDash.colors.rising, weight: 2.5, fill: false, opacity: 1};
    },
    interactive: false
  });
};
D.gapsLayer = function () {
  return L.geoJson(gridmapDash.gaps, {
    pane: "dash-gaps",
    style: function (f) {
      return {color: "#ffffff", weight: 0.3, fillOpacity: 0.7,
              fillColor: gridmapDash.classify(f.properties.dsv, gridmapDash.scales.gap)};
    },
    onEachFeature: function (f, layer) {
      var L = gridmapDash.L, p = f.properties;
      layer.bindTooltip(gridmapDash.table([[L.cell, p.cell], [L.code, p.grid],
        [L.since_visit, gridmapDash.days(p.dsv)]]), {sticky: true});
    }
  });
};
D.unownedCellsLayer = function () {
  return L.geoJson(gridmapDash.ucells, {
    pane: "dash-ucells",
    style: function (f) {
      return {color: "#ffffff", weight: 0.4, fillOpacity: 0.85,
              fillColor: gridmapDash.classify(f.properties.n, gridmapDash.scales.ucell)};
    },
    onEachFeature: function (f, layer) {
      var L = gridmapDash.L, p = f.properties;
      layer.bindTooltip(gridmapDash.table([[L.cell, p.cell], [L.unowned, p.n],
        [L.per_km2, gridmapDash.num(p.km2, 1)], [L.per_1000, gridmapDash.num(p.r1000, 1)],
        [L.households, p.hh]]), {sticky: true});
    }
  });
};
// Compounds as clustered markers; each cluster is a pie of its management types.
D.clusterLayer = function () {
  var D = gridmapDash;
  var group = L.markerClusterGroup({
    showCoverageOnHover: false, maxClusterRadius: 45, chunkedLoading: true,
    iconCreateFunction: function (cluster) {
      var n = D.mtypes.map(function () { return 0; });
      var ms = cluster.getAllChildMarkers();
      ms.forEach(function (m) { n[m.options.mtype] += 1; });
      var stops = [], acc = 0;
      n.forEach(function (k, i) {
        if (k) {
          stops.push(D.mtypes[i].color + " " + (acc / ms.length * 360) + "deg "
            + ((acc + k) / ms.length * 360) + "deg");
          acc += k;
        }
      });
      var size = ms.length < 10 ? 30 : (ms.length < 100 ? 36 : 42);
      return L.divIcon({
        html: '<div style="background: conic-gradient(' + stops.join(", ") + ')"><span>'
          + ms.length + "</span></div>",
        className: "dash-cluster", iconSize: [size, size]});
    }
  });
  var icons = D.mtypes.map(function (t) {
    return L.divIcon({className: "dash-cpd", iconSize: [t.size, t.size],
      html: '<span style="background:' + t.color + '"></span>'});
  });
  group.addLayers(D.compounds.map(function (c) {
    var t = D.mtypes[c[2]];
    return L.marker([c[0], c[1]], {icon: icons[c[2]], mtype: c[2]}).bindTooltip(
      D.table([[D.L.compound, c[3]], [D.L.management, t.label], [D.L.households, c[4]]]));
  }));
  return group;
};
// A date slider under the map: the heat of one Beijing day, or the whole window.
D.daySlider = function (map, heat) {
  var D = gridmapDash;
  var ctl = L.control({position: "bottomleft"});
  ctl.onAdd = function () {
    var div = L.DomUtil.create("div", "dash-slider leaflet-bar");
    div.innerHTML = '<label for="dash-day">' + D.L.slider + ': <b id="dash-day-label">'
      + D.L.all_days + '</b></label><input id="dash-day" type="range" min="0" max="'
      + D.days_labels.length + '" value="0" step="1">';
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  ctl.addTo(map);
  var input = document.getElementById("dash-day");
  var label = document.getElementById("dash-day-label");
  input.addEventListener("input", function () {
    var v = Number(input.value);
    D.day = v === 0 ? null : v - 1;
    label.textContent = v === 0 ? D.L.all_days : D.days_labels[v - 1];
    heat.setStyle(D.heatStyle);
    var legend = document.querySelectorAll(".dash-legend .dash-daily");
    legend.forEach(function (el) { el.hidden = D.day === null; });
  });
};
