/* The planner's grid editor: select, reshape, split, merge, move a border or a grid,
   preview the impact (dry run) and save with If-Match, through the edit API.
   Started by planner_editor.html with the page's map, layers and strings. */
function gridmapPlannerEditor(config) {
  const map = config.map;
  const grids = config.grids;
  const findingsLayer = config.findingsLayer;
  const labels = config.labels;
  const labelGroup = config.labelGroup;
  const S = config.strings;
  const API = config.api;
  // Shapes go to and come from the server in the basemap's datum (gcj02 on Amap).
  const CRS = config.crs;
  const AS_DRAWN = CRS === "wgs84" ? "" : "?crs=" + CRS;
  const SEL = {color: "#d94801", weight: 3, fillOpacity: 0.55};
  const $ = (id) => document.getElementById(id);
  let sel = null, etag = null, mode = null, other = null, otherEtag = null, line = null;
  map.attributionControl.setPrefix("Leaflet");
  map.pm.setLang(config.lang === "zh" ? "zh" : "en");
  labels.forEach(function (l) {
    L.marker([l.lat, l.lon], {interactive: false, icon: L.divIcon({
      className: "gm-label " + l.level, html: l.name, iconSize: null})})
      .addTo(labelGroup);
  });
  function byCode(code) {
    let found = null;
    grids.eachLayer(function (l) { if (l.feature.properties.code === code) found = l; });
    return found;
  }
  function say(text, cls) { const m = $("gm-msg"); m.textContent = text;
    m.className = "msg " + (cls || ""); }
  function resetStyles() { grids.eachLayer(function (l) { grids.resetStyle(l); }); }
  function stopEditing() {
    if (sel && sel.pm) sel.pm.disable();
    map.pm.disableDraw();
    if (line) { map.removeLayer(line); line = null; }
  }
  function clearSelection() {
    stopEditing(); resetStyles(); sel = null; etag = null; mode = null; other = null;
    $("gm-selected").style.display = "none"; $("gm-impact").innerHTML = "";
  }
  const EDITABLE = config.editable;
  // A signed-in person's session token (cookie gm_csrf, set at sign-in): every change
  // sends it, so another site cannot make the browser change anything.
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)gm_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function fetchEtag(code) {
    if (!EDITABLE) return null;  // a saved file has no server behind it
    const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code));
    return r.ok ? r.headers.get("ETag") : null;
  }
  async function select(layer) {
    clearSelection();
    sel = layer; layer.setStyle(SEL); layer.bringToFront();
    const p = layer.feature.properties;
    $("gm-code").textContent = p.code; $("gm-name").textContent = p.name;
    etag = await fetchEtag(p.code);
    if (EDITABLE) $("gm-etag").textContent = etag || "?";
    $("gm-selected").style.display = "block"; say("");
  }
  grids.on("click", async function (e) {
    const layer = e.layer;
    if ((mode === "merge" || mode === "border-pick") && sel && layer !== sel) {
      other = layer; otherEtag = await fetchEtag(layer.feature.properties.code);
      layer.setStyle({color: "#2171b5", weight: 3});
      if (mode === "border-pick") { mode = "border"; drawLine(); }
      else { say(layer.feature.properties.code); }
      return;
    }
    if (mode === "reshape" && layer === sel) return;
    // Drawing a split or border line: the clicks place its points.
    if (map.pm.globalDrawModeEnabled() || mode === "split" || mode === "border") return;
    select(layer);
  });
  function drawLine() {
    say(S.draw_line);
    map.pm.enableDraw("Line", {snappable: false, finishOn: "dblclick"});
  }
  map.on("pm:create", function (e) {
    if (e.shape !== "Line") return;
    line = e.layer; map.pm.disableDraw(); say("");
  });
  if (EDITABLE) {
  $("gm-edit").onclick = async function () {
    stopEditing(); mode = "reshape";
    // The map shows simplified shapes; edit the exact one. No snapping: it would
    // snap to those display shapes, and neighbours follow on the server anyway.
    const code = sel.feature.properties.code;
    const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code) + AS_DRAWN);
    if (r.ok) {
      const f = await r.json();
      etag = r.headers.get("ETag"); $("gm-etag").textContent = etag;
      grids.removeLayer(sel);
      grids.addData({type: "Feature", id: f.id, properties: {code: code,
        name: sel.feature.properties.name}, geometry: f.geometry});
      sel = byCode(code); sel.setStyle(SEL);
    }
    sel.pm.enable({allowSelfIntersection: false, snappable: false});
  };
  $("gm-split").onclick = function () { stopEditing(); mode = "split"; drawLine(); };
  $("gm-merge").onclick = function () { stopEditing(); mode = "merge"; say(S.pick_other); };
  $("gm-border").onclick = function () {
    stopEditing(); mode = "border-pick"; say(S.pick_other); };
  $("gm-move").onclick = function () { stopEditing(); mode = "move";
    save(true); };
  $("gm-cancel").onclick = clearSelection;
  $("gm-preview").onclick = function () { save(true); };
  $("gm-save").onclick = function () { save(false); };
  }
  function request() {
    const code = sel.feature.properties.code;
    const reason = $("gm-reason").value.trim();
    const tags = [etag];
    let url, body;
    if (mode === "reshape") {
      url = "/v1/grids/" + encodeURIComponent(code) + "/reshape";
      body = {geometry: sel.toGeoJSON(false).geometry, crs: CRS, mode: "clip"};
    } else if (mode === "split" && line) {
      url = "/v1/grids/" + encodeURIComponent(code) + "/split";
      body = {line: line.toGeoJSON(false).geometry, crs: CRS};
    } else if (mode === "merge" && other) {
      url = "/v1/grids/merge";
      body = {grids: [code, other.feature.properties.code], keep: code};
      tags.push(otherEtag);
    } else if (mode === "border" && other && line) {
      url = "/v1/grids/border";
      body = {grids: [code, other.feature.properties.code],
              line: line.toGeoJSON(false).geometry, crs: CRS};
      tags.push(otherEtag);
    } else if (mode === "move") {
      url = "/v1/grids/" + encodeURIComponent(code) + "/move";
      body = {community: $("gm-community").value.trim()};
    } else { return null; }
    body.reason = reason || "-";
    return {url: url, body: body, tags: tags, reason: reason};
  }
  function showImpact(impact) {
    const rows = Object.keys(impact.workload_after || {})
      .concat(Object.keys(impact.workload_before || {}))
      .filter(function (v, i, a) { return a.indexOf(v) === i; }).sort();
    const cell = function (g, k) {
      const b = (impact.workload_before[g] || {})[k];
      const a = (impact.workload_after[g] || {})[k];
      return (b === undefined ? "–" : b) + " → " + (a === undefined ? "–" : a);
    };
    let h = "<b>" + S.impact + "</b><br>" +
      S.compounds_moving + ": " + impact.compounds.length + "<br>" +
      S.households_moving + ": " + impact.households + "<br>" +
      S.incidents_moving + ": " + impact.open_incidents.length + "<br>" +
      S.cells_moving + ": " + impact.patrol_cells.length + "<br>" +
      S.workers_losing + ": " + impact.workers_losing_grid.length + "<br>" +
      "<b>" + S.workload + "</b><table><tr><th>" + S["col.grid"] + "</th><th>" +
      S["col.households"] + "</th><th>" + S["col.compounds"] + "</th><th>" +
      S["col.unowned"] + "</th><th>" + S["col.incidents"] + "</th></tr>";
    rows.forEach(function (g) {
      h += "<tr><td>" + g + "</td><td>" + cell(g, "households") + "</td><td>" +
        cell(g, "compounds") + "</td><td>" + cell(g, "unowned_compounds") + "</td><td>" +
        cell(g, "incidents_30d") + "</td></tr>";
    });
    $("gm-impact").innerHTML = h + "</table>";
  }
  async function refreshGrid(code) {
    const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code) + AS_DRAWN);
    const old = byCode(code);
    if (old) grids.removeLayer(old);
    if (!r.ok) return;
    const f = await r.json();
    grids.addData({type: "Feature", id: f.id, properties: {
      code: f.properties.code, name: f.properties.name}, geometry: f.geometry});
  }
  async function save(dryRun) {
    if (!sel) return;
    const req = request();
    if (!req) return;
    if (!dryRun && !req.reason) { say(S.no_reason, "err"); return; }
    findingsLayer.clearLayers();
    const r = await fetch(API + req.url + (dryRun ? "?dry_run=true" : ""), {
      method: "POST",
      headers: {"Content-Type": "application/json", "If-Match": req.tags.join(", "),
                "X-CSRF-Token": csrfToken()},
      body: JSON.stringify(req.body)});
    const out = await r.json();
    if (r.status === 412) { say(S.stale, "err"); return; }
    if (!r.ok) {
      say(S.refused + ": " + ((config.lang === "zh") ?
          out.detail_zh : out.detail), "err");
      if (out.findings) findingsLayer.addData(out.findings);
      return;
    }
    showImpact(out.impact);
    if (dryRun) return;
    const keep = sel.feature.properties.code;
    stopEditing(); sel = null;
    for (const code of Object.keys(out.etags)) await refreshGrid(code);
    for (const code of out.retired) {  // merged away: no longer live, nothing to fetch
      const gone = byCode(code);
      if (gone) grids.removeLayer(gone);
    }
    say(S.saved + ": " + Object.entries(out.etags).map(function (e) {
      return e[0] + " " + e[1]; }).join(", "), "ok");
    mode = null;
    const again = byCode(keep);
    if (again) { await select(again); say(S.saved, "ok"); showImpact(out.impact); }
    window.gridmapPlanner.saved += 1;
  }
  $("gm-search").addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    const q = e.target.value.trim();
    let hit = null;
    grids.eachLayer(function (l) { const p = l.feature.properties;
      if (!hit && (p.code === q || p.name.indexOf(q) >= 0)) hit = l; });
    const lab = labels.find(function (l) {
      return l.code === q || l.name.indexOf(q) >= 0; });
    if (hit) { map.fitBounds(hit.getBounds()); select(hit); }
    else if (lab) { map.setView([lab.lat, lab.lon], 15); }
    else { say(S.not_found + ": " + q, "err"); }
  });
  window.gridmapPlanner = {map: map, grids: grids, byCode: byCode, select: select,
                           saved: 0, editing: function () { return mode; },
                           current: function () { return sel; }};
}
