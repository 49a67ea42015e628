// The billabong dashboard: reads the serving layer's JSON API, draws Plotly
// charts, and keeps them live.
//
// Sources (all same-origin; nothing leaves the server this page came from):
//   /api/views/<view>          merged batch ⊕ real-time views, with coverage
//   /api/live?prefix=          latest value of each speed-layer metric key
//   /api/stream?channels=      SSE: one event per update (data-live="sse")
//   /api/groups                groups with coordinates (batch layer)
//   /api/races/<id>/laps       per-lap positions (batch layer)
//   /api/latency               the speed layer's consumption latency
//
// State lives in `app` (exposed as window.billabong for the browser test);
// every chart is re-drawn from it by a render function, at most a few times
// a second, and sets data-points on its element (0 = nothing to show, with a
// visible reason).
'use strict';

const VIEWS = ['view_rsvps_country_hour', 'view_topic_day', 'view_race_driver_laps'];
// Live metric families the page follows (SSE channels; /api/live prefixes).
const CHANNELS = ['rsvp_rate', 'topics_top', 'model_accuracy', 'model_status', 'race_car',
  'race_order', 'race_pass', 'race_clumpiness', 'race_prediction'];
const LIVE_PREFIXES = ['rsvp_rate/all/1m/', 'topics_top/5m/', 'model_', 'race/'];
const POLL_MS = 2000;
const VIEW_POLL_MS = 5000;
const PLOTLY_CONFIG = {
  responsive: true,
  displaylogo: false,
  topojsonURL: '/assets/topojson-4.1.1/',
  modeBarButtonsToRemove: ['select2d', 'lasso2d', 'toImage'],
};
const COLORS = { batch: '#0b6e99', live: '#d9480f', muted: '#adb5bd', good: '#2b8a3e', bad: '#c92a2a' };

const app = {
  mode: document.documentElement.dataset.live || 'poll',
  views: {},            // view name → {coverage, rows}
  live: new Map(),      // metric key → latest update
  groups: null,         // /api/groups answer
  race: { id: null, info: null, drivers: new Map(), laps: new Map(), clump: new Map(), batchRun: null },
  latency: null,
  liveUpdates: 0,       // updates applied after the first load
  loaded: false,
  errors: [],
};
window.billabong = app;

// ---- helpers -------------------------------------------------------------

async function getJSON(url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  return response.json();
}

const phone = () => window.matchMedia('(max-width: 600px)').matches;
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const fmtTime = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const $ = (id) => document.getElementById(id);

function baseLayout(extra) {
  return Object.assign({
    margin: { l: 48, r: 12, t: 8, b: 36 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { size: phone() ? 10 : 12 },
    showlegend: false,
    hovermode: 'closest',
  }, extra);
}

// Draws a chart, or the reason it has nothing to draw.
function draw(name, traces, layout, points, emptyReason) {
  const el = document.querySelector(`[data-chart="${name}"]`);
  el.dataset.points = String(points);
  let empty = el.querySelector('.empty');
  if (points === 0) {
    if (!empty) {
      empty = document.createElement('div');
      empty.className = 'empty';
      el.appendChild(empty);
    }
    empty.textContent = emptyReason;
    el.dataset.empty = emptyReason;
    return;
  }
  if (empty) {
    empty.remove();
  }
  delete el.dataset.empty;
  Plotly.react(el, traces, layout, Object.assign({}, PLOTLY_CONFIG, { displayModeBar: phone() ? false : 'hover' }));
}

// An update id is `<topic>:<partition>:<offset>:<seq>` (the topic may hold ':').
function parseId(id) {
  const parts = String(id || '').split(':');
  if (parts.length < 4) {
    return null;
  }
  const n = parts.length;
  return { topic: parts.slice(0, n - 3).join(':'), partition: Number(parts[n - 3]), offset: Number(parts[n - 2]) };
}

// ---- loading -------------------------------------------------------------

async function loadViews(names) {
  await Promise.all(names.map(async (name) => {
    app.views[name] = await getJSON(`/api/views/${name}`);
  }));
}

async function loadLive() {
  for (const prefix of LIVE_PREFIXES) {
    const answer = await getJSON(`/api/live?prefix=${encodeURIComponent(prefix)}`);
    for (const update of answer.updates) {
      applyUpdate(update);
    }
  }
}

async function loadGroups() {
  app.groups = await getJSON('/api/groups');
}

async function loadLatency() {
  app.latency = await getJSON('/api/latency');
}

// Picks the race to show: the one with the newest live event, else the last
// one the batch view knows.
function raceIds() {
  const ids = new Set();
  for (const row of app.views.view_race_driver_laps?.rows || []) {
    ids.add(row.race_id);
  }
  for (const key of app.live.keys()) {
    const m = key.match(/^race\/([^/]+)\//);
    if (m) {
      ids.add(m[1]);
    }
  }
  return [...ids].sort();
}

function newestLiveRace() {
  let best = null;
  for (const [key, u] of app.live) {
    const m = key.match(/^race\/([^/]+)\/order$/);
    const t = u.event_time_range ? u.event_time_range[1] : 0;
    if (m && (!best || t > best.t)) {
      best = { id: m[1], t };
    }
  }
  return best?.id;
}

async function selectRace(id) {
  const race = { id, info: null, drivers: new Map(), laps: new Map(), clump: new Map(), batchRun: null };
  app.race = race;
  if (!id) {
    return;
  }
  const answer = await getJSON(`/api/races/${encodeURIComponent(id)}/laps`);
  race.info = answer.race;
  race.batchRun = answer.batch_run_id;
  for (const d of answer.drivers) {
    race.drivers.set(d.driver_id, d);
  }
  const leaderTime = new Map();
  for (const l of answer.laps) {
    const t = leaderTime.get(l.lap);
    leaderTime.set(l.lap, t === undefined ? l.race_time_ms : Math.min(t, l.race_time_ms));
  }
  for (const l of answer.laps) {
    lapsOf(l.driver_id).set(l.lap, { position: l.position, gap_ms: l.race_time_ms - leaderTime.get(l.lap), live: false });
  }
  // The race's current live values (car positions, clumpiness) join the history.
  for (const u of app.live.values()) {
    foldRaceUpdate(u);
  }
}

function lapsOf(driver) {
  if (!app.race.laps.has(driver)) {
    app.race.laps.set(driver, new Map());
  }
  return app.race.laps.get(driver);
}

// ---- live updates --------------------------------------------------------

function foldRaceUpdate(u) {
  const v = u.value || {};
  if (v.race_id !== app.race.id) {
    return;
  }
  if (u.metric === 'race_car' && v.lap != null && v.position != null) {
    lapsOf(v.driver).set(v.lap, { position: v.position, gap_ms: v.gap_to_leader_ms, live: true });
  } else if (u.metric === 'race_clumpiness') {
    app.race.clump.set(v.lap, v);
  }
}

// Applies one update (from /api/live, an SSE event or a snapshot); returns
// true when it was new.
function applyUpdate(u) {
  if (!u || !u.key) {
    return false;
  }
  const known = app.live.get(u.key);
  if (known && known.id === u.id) {
    return false;
  }
  app.live.set(u.key, u);
  foldRaceUpdate(u);
  if (app.loaded) {
    app.liveUpdates += 1;
    document.body.dataset.liveUpdates = String(app.liveUpdates);
  }
  scheduleRender();
  return true;
}

let renderPending = false;
function scheduleRender() {
  if (!renderPending && app.loaded) {
    renderPending = true;
    setTimeout(() => {
      renderPending = false;
      renderAll();
    }, 250);
  }
}

function setStatus(kind, text) {
  const badge = $('live-status');
  badge.className = `badge ${kind}`;
  badge.textContent = text;
  document.body.dataset.liveMode = kind;
}

// SSE: one event per update; the browser resumes with Last-Event-ID itself.
function connectStream() {
  const source = new EventSource(`/api/stream?channels=${['views', ...CHANNELS].join(',')}`);
  let opened = false;
  source.onopen = () => {
    opened = true;
    setStatus('live', 'live');
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      if (!opened) {
        startPolling();
        return;
      }
      setStatus('down', 'disconnected');
      setTimeout(connectStream, 3000);
    } else {
      setStatus('down', 'reconnecting…');
    }
  };
  // A snapshot opens every fresh connection ("initial") and replaces what a
  // resumed one missed when its Last-Event-ID was too old ("gap"). A fresh
  // connection after a hard close (below) cannot send Last-Event-ID, so any
  // snapshot after the first load also re-reads the views.
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse(e.data);
    (data.updates || []).forEach(applyUpdate);
    if (data.reason === 'gap' || app.streamOpened) {
      refreshViews(VIEWS);
    }
    app.streamOpened = true;
  });
  source.addEventListener('views', (e) => refreshViews(JSON.parse(e.data).views || VIEWS));
  for (const channel of CHANNELS) {
    source.addEventListener(channel, (e) => applyUpdate(JSON.parse(e.data)));
  }
}

// The fallback: the same data by polling /api/live and the views.
function startPolling() {
  setStatus('poll', `polling every ${POLL_MS / 1000} s`);
  setInterval(() => loadLive().catch(report), POLL_MS);
  setInterval(() => refreshViews(VIEWS), VIEW_POLL_MS);
}

// Re-reads views; re-draws when what they cover changed.
async function refreshViews(names) {
  try {
    const before = names.map((n) => JSON.stringify(app.views[n]?.coverage?.through));
    await loadViews(names);
    const changed = names.some((n, i) => JSON.stringify(app.views[n]?.coverage?.through) !== before[i]);
    const run = app.views.view_rsvps_country_hour?.coverage?.batch_run_id;
    if (changed) {
      app.viewRefreshes = (app.viewRefreshes || 0) + 1;
      if (app.groups && run !== app.groups.batch_run_id) {
        await loadGroups();
      }
      scheduleRender();
    }
  } catch (error) {
    report(error);
  }
}

function report(error) {
  app.errors.push(String(error));
  setStatus('down', 'error: ' + String(error).slice(0, 80));
}

// ---- charts: RSVPs ---------------------------------------------------------

function renderMap() {
  const groups = app.groups?.groups || [];
  const max = Math.max(1, ...groups.map((g) => g.rsvps));
  $('map-note').textContent = app.groups
    ? `${groups.length} groups of batch run ${app.groups.batch_run_id ?? '–'}, sized by RSVPs; ` +
      `${app.groups.excluded_unknown_location} at lat = lon = 0 (Meetup's “unknown location”) left out.`
    : 'Groups from the newest batch run.';
  draw('map', [{
    type: 'scattergeo',
    lat: groups.map((g) => g.lat),
    lon: groups.map((g) => g.lon),
    text: groups.map((g) => `${g.name}<br>${g.city}, ${g.country.toUpperCase()}: ${g.rsvps} RSVPs (${g.yes} yes)`),
    hoverinfo: 'text',
    marker: {
      size: groups.map((g) => 4 + 22 * Math.sqrt(g.rsvps / max)),
      color: COLORS.batch,
      opacity: 0.6,
      line: { width: 0.5, color: '#fff' },
    },
  }], baseLayout({
    margin: { l: 0, r: 0, t: 0, b: 0 },
    geo: {
      projection: { type: 'natural earth' },
      showcountries: true,
      countrycolor: '#ced4da',
      landcolor: '#f1f3f5',
      showocean: true,
      oceancolor: '#e7f5ff',
      showframe: false,
      resolution: 110,
    },
  }), groups.length, 'No groups with a location yet (no batch run?).');
}

function countryTotals() {
  const totals = new Map();
  for (const r of app.views.view_rsvps_country_hour?.rows || []) {
    const t = totals.get(r.country_code) || { rsvps: 0, yes: 0 };
    t.rsvps += r.rsvps;
    t.yes += r.yes_count;
    totals.set(r.country_code, t);
  }
  return [...totals].sort((a, b) => b[1].rsvps - a[1].rsvps);
}

function renderCountries() {
  const top = countryTotals().slice(0, phone() ? 10 : 15).reverse();
  draw('countries', [{
    type: 'bar',
    orientation: 'h',
    y: top.map(([c]) => c.toUpperCase()),
    x: top.map(([, t]) => t.rsvps),
    marker: { color: COLORS.batch },
    hovertemplate: '%{y}: %{x} RSVPs<extra></extra>',
  }], baseLayout({ margin: { l: 40, r: 12, t: 4, b: 30 }, xaxis: { title: { text: 'RSVPs' } } }),
  top.length, 'No RSVPs in the merged view yet.');
}

// The per-minute rate, split where the batch run's watermark ends: minutes
// whose newest record is at or below the watermark are covered by the batch
// run, later ones only by the speed layer.
function renderRate() {
  const coverage = app.views.view_rsvps_country_hour?.coverage;
  const marks = coverage?.batch_watermarks || {};
  const minutes = [];
  for (const [key, u] of app.live) {
    if (key.startsWith('rsvp_rate/all/1m/') && u.window) {
      const at = parseId(u.id);
      const w = at && marks[at.topic]?.[at.partition];
      minutes.push({ t: u.window.start_ms, n: u.value.count, batch: w !== undefined && at.offset <= w });
    }
  }
  minutes.sort((a, b) => a.t - b.t);
  const handOver = minutes.find((m) => !m.batch);
  const hours = new Map();
  for (const r of app.views.view_rsvps_country_hour?.rows || []) {
    hours.set(r.hour_ms, (hours.get(r.hour_ms) || 0) + r.rsvps);
  }
  const hourList = [...hours].sort((a, b) => a[0] - b[0]);
  const traces = [{
    type: 'bar',
    name: 'per hour (merged view)',
    x: hourList.map(([t]) => t + 1800000),
    y: hourList.map(([, n]) => n),
    width: 3600000,
    yaxis: 'y2',
    marker: { color: 'rgba(11,110,153,0.12)' },
    hovertemplate: '%{x|%H:00} hour: %{y} RSVPs<extra></extra>',
  }, {
    type: 'scatter',
    mode: 'lines+markers',
    name: 'per minute',
    x: minutes.map((m) => m.t),
    y: minutes.map((m) => m.n),
    line: { color: COLORS.muted, width: 1.5 },
    marker: { size: 6, color: minutes.map((m) => (m.batch ? COLORS.batch : COLORS.live)) },
    hovertemplate: '%{x|%H:%M}: %{y} RSVPs/min<extra></extra>',
  }];
  const last = minutes.length ? minutes[minutes.length - 1].t : Date.now();
  const layout = baseLayout({
    margin: { l: 48, r: 48, t: 8, b: 36 },
    xaxis: { type: 'date', range: [last - 45 * 60000, last + 2 * 60000] },
    yaxis: { title: { text: 'per minute' }, rangemode: 'tozero' },
    yaxis2: { title: { text: 'per hour' }, overlaying: 'y', side: 'right', rangemode: 'tozero', showgrid: false },
    shapes: [],
    annotations: [],
  });
  if (handOver) {
    layout.shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: handOver.t, x1: handOver.t, y0: 0, y1: 1,
      line: { color: COLORS.live, dash: 'dash', width: 2 } });
    layout.annotations.push({ xref: 'x', yref: 'paper', x: handOver.t, y: 1, yanchor: 'top', xanchor: 'left',
      text: `batch run ${coverage.batch_run_id} → live`, showarrow: false, font: { color: COLORS.live } });
  }
  $('rate-note').textContent = 'Per minute from the speed layer (blue: covered by batch run ' +
    `${coverage?.batch_run_id ?? '–'}, orange: after its watermark); bars: hourly totals of the merged view.`;
  draw('rate', traces, layout, minutes.length + hourList.length, 'No RSVP rate yet.');
}

function renderTopics() {
  const totals = new Map();
  for (const r of app.views.view_topic_day?.rows || []) {
    totals.set(r.urlkey, (totals.get(r.urlkey) || 0) + r.rsvps);
  }
  const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, phone() ? 10 : 12).reverse();
  let newest = null;
  for (const [key, u] of app.live) {
    if (key.startsWith('topics_top/5m/') && (!newest || u.window.end_ms > newest.window.end_ms)) {
      newest = u;
    }
  }
  $('topics-note').textContent = newest
    ? `Merged view, all days. Live top, 5 min to ${fmtTime(newest.window.end_ms).slice(11)}: ` +
      newest.value.top.slice(0, 5).map((t) => t.topic).join(', ')
    : 'Merged view, all days.';
  draw('topics', [{
    type: 'bar',
    orientation: 'h',
    y: top.map(([k]) => k),
    x: top.map(([, n]) => n),
    marker: { color: COLORS.batch },
    hovertemplate: '%{y}: %{x} RSVPs<extra></extra>',
  }], baseLayout({ margin: { l: phone() ? 110 : 150, r: 12, t: 4, b: 30 }, xaxis: { title: { text: 'RSVPs' } } }),
  top.length, 'No topics in the merged view yet.');
}

function renderYes() {
  const countries = countryTotals().slice(0, phone() ? 6 : 10);
  const all = countryTotals().reduce((a, [, t]) => ({ rsvps: a.rsvps + t.rsvps, yes: a.yes + t.yes }), { rsvps: 0, yes: 0 });
  const labels = ['all', ...countries.map(([c]) => c.toUpperCase())];
  const ratios = [all.yes / all.rsvps, ...countries.map(([, t]) => t.yes / t.rsvps)];
  let accuracy = null;
  let status = null;
  for (const [key, u] of app.live) {
    if (key.startsWith('model_accuracy/') && (!accuracy || u.value.model_version > accuracy.value.model_version)) {
      accuracy = u;
    }
    if (key.startsWith('model_status/')) {
      status = u;
    }
  }
  const shapes = [];
  const annotations = [];
  const line = (y, color, text) => {
    shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: y, y1: y, line: { color, dash: 'dash', width: 2 } });
    annotations.push({ xref: 'paper', x: 1, y, xanchor: 'right', yanchor: 'bottom', text, showarrow: false, font: { color } });
  };
  if (accuracy) {
    const v = accuracy.value;
    line(v.accuracy, COLORS.live, `model v${v.model_version}: ${(100 * v.accuracy).toFixed(1)} % of ${v.scored} scored`);
  }
  if (status?.value.holdout_accuracy != null) {
    line(status.value.holdout_accuracy, COLORS.good, `holdout ${(100 * status.value.holdout_accuracy).toFixed(1)} %`);
  }
  $('yes-note').textContent = accuracy
    ? 'Share of “yes” answers (merged view) and the response model\'s running accuracy (speed layer).'
    : `Share of “yes” answers (merged view). Model: ${status?.value.status || 'no status published yet'}.`;
  draw('yes', [{
    type: 'bar',
    x: labels,
    y: ratios,
    marker: { color: labels.map((l) => (l === 'all' ? COLORS.live : COLORS.batch)) },
    hovertemplate: '%{x}: %{y:.1%} yes<extra></extra>',
  }], baseLayout({ yaxis: { range: [0, 1.05], tickformat: '.0%' }, shapes, annotations }),
  all.rsvps > 0 ? labels.length : 0, 'No RSVPs in the merged view yet.');
}

// ---- charts: race ----------------------------------------------------------

// The driver's code, else the first three letters of the surname (as a
// timing screen shows it).
function driverLabel(id) {
  const d = app.race.drivers.get(id);
  if (d?.code) {
    return d.code;
  }
  const surname = (d?.name || id).trim().split(/\s+/).pop();
  return surname.slice(0, 3).toUpperCase();
}

// x/y of a driver's laps with a break (null) where laps are missing, so a
// line never bridges laps nobody saw (e.g. between the batch run's last lap
// and the first live one).
function lapSeries(laps, value) {
  const x = [];
  const y = [];
  const sorted = [...laps.keys()].filter((l) => value(laps.get(l)) != null).sort((a, b) => a - b);
  sorted.forEach((lap, i) => {
    if (i > 0 && lap !== sorted[i - 1] + 1) {
      x.push(null);
      y.push(null);
    }
    x.push(lap);
    y.push(value(laps.get(lap)));
  });
  return { x, y, count: sorted.length };
}

// Drivers sorted by their position on their newest lap.
function driversByPosition() {
  return [...app.race.laps].map(([id, laps]) => {
    const lastLap = Math.max(...laps.keys());
    return { id, laps, lastLap, last: laps.get(lastLap) };
  }).sort((a, b) => b.lastLap - a.lastLap || a.last.position - b.last.position);
}

function renderPositions() {
  const drivers = driversByPosition();
  const traces = [];
  const gained = { x: [], y: [], text: [] };
  const lost = { x: [], y: [], text: [] };
  let points = 0;
  let maxPosition = 1;
  for (const d of drivers) {
    const series = lapSeries(d.laps, (v) => v.position);
    const label = driverLabel(d.id);
    points += series.count;
    traces.push({
      type: 'scatter',
      mode: 'lines+markers+text',
      name: label,
      x: series.x,
      y: series.y,
      text: series.x.map((l) => (l === d.lastLap ? label : '')),
      textposition: 'middle right',
      textfont: { size: 9 },
      cliponaxis: false,
      line: { width: 1.5 },
      marker: { size: 3 },
      hovertemplate: `${label} lap %{x}: P%{y}<extra></extra>`,
    });
    for (let i = 1; i < series.x.length; i += 1) {
      const [lap, before, now] = [series.x[i], series.y[i - 1], series.y[i]];
      maxPosition = Math.max(maxPosition, now || 1);
      if (lap === null || before === null || now === before) {
        continue;
      }
      const into = now < before ? gained : lost;
      into.x.push(lap);
      into.y.push(now);
      into.text.push(`${label} lap ${lap}: P${before} → P${now}`);
    }
  }
  for (const [set, symbol, color, name] of [[gained, 'triangle-up', COLORS.good, 'gained'], [lost, 'triangle-down', COLORS.bad, 'lost']]) {
    traces.push({ type: 'scatter', mode: 'markers', name, x: set.x, y: set.y, text: set.text, hoverinfo: 'text',
      marker: { symbol, color, size: 7 } });
  }
  draw('positions', traces, baseLayout({
    margin: { l: 36, r: 40, t: 8, b: 36 },
    xaxis: { title: { text: 'lap' }, rangemode: 'tozero' },
    yaxis: { range: [maxPosition + 0.5, 0.5], dtick: phone() ? 5 : 1, title: { text: 'position' } },
  }), points, app.race.id ? 'No laps of this race yet.' : 'No race in the views or live metrics yet.');
}

function renderGaps() {
  const drivers = driversByPosition().slice(0, phone() ? 6 : 10);
  let points = 0;
  const traces = drivers.map((d) => {
    const series = lapSeries(d.laps, (v) => (v.gap_ms == null ? null : v.gap_ms / 1000));
    points += series.count;
    return {
      type: 'scatter',
      mode: 'lines+markers',
      marker: { size: 3 },
      name: driverLabel(d.id),
      x: series.x,
      y: series.y,
      hovertemplate: `${driverLabel(d.id)} lap %{x}: +%{y:.1f} s<extra></extra>`,
    };
  });
  draw('gaps', traces, baseLayout({
    showlegend: !phone(),
    legend: { font: { size: 9 } },
    xaxis: { title: { text: 'lap' } },
    yaxis: { title: { text: 's behind' }, rangemode: 'tozero' },
  }), points, 'No gaps yet.');
}

function renderClump() {
  const laps = [...app.race.clump.keys()].sort((a, b) => a - b);
  const values = laps.map((l) => app.race.clump.get(l));
  draw('clump', [{
    type: 'scatter',
    mode: 'lines+markers',
    x: laps,
    y: values.map((v) => v.clumpiness),
    customdata: values.map((v) => [v.cars, v.spread_ms / 1000, v.mean_gap_ms / 1000]),
    hovertemplate: 'lap %{x}: %{y:.0%} of gaps < 1 s<br>first %{customdata[0]} cars spread %{customdata[1]:.1f} s, ' +
      'mean gap %{customdata[2]:.2f} s<extra></extra>',
    line: { color: COLORS.live },
  }], baseLayout({ xaxis: { title: { text: 'lap' } }, yaxis: { range: [-0.05, 1.05], tickformat: '.0%' } }),
  laps.length, 'No clumpiness published for this race yet.');
}

// The speed layer's blended prediction (metric `race_prediction`): per car,
// w · grid + (1 − w) · running position, w = 1 − laps / scheduled laps.
function renderPrediction() {
  const updates = [...app.live.values()].filter((u) => u.metric === 'race_prediction' && u.value?.race_id === app.race.id);
  if (updates.length === 0) {
    $('prediction-note').textContent = 'Historical model blended with live timing.';
    draw('prediction', [], {}, 0, 'No prediction published for this race yet (one comes with each completed lap).');
    return;
  }
  const rows = updates.map((u) => u.value);
  const weight = rows.find((v) => v.live_weight != null)?.live_weight;
  $('prediction-note').textContent = weight != null ? `Live weight ${(100 * weight).toFixed(0)} %.` : '';
  draw('prediction', [{
    type: 'bar',
    x: rows.map((v) => driverLabel(v.driver)),
    y: rows.map((v) => v.predicted_position),
    hovertemplate: '%{x}: P%{y:.1f}<extra></extra>',
  }], baseLayout({ yaxis: { autorange: 'reversed', title: { text: 'predicted position' } } }), rows.length, '');
}

function renderLatency() {
  const series = app.latency?.series || [];
  const l = app.latency;
  $('latency-note').textContent = l?.last_ms != null
    ? `Kafka append → speed-layer publish. Now ${l.last_ms} ms; mean of the last ${l.average_window_s} s ` +
      `${l.average_ms.toFixed(0)} ms over ${l.average_messages} messages.`
    : 'Kafka append → speed-layer publish, per message.';
  draw('latency', [{
    type: 'scatter',
    mode: 'lines',
    name: 'max',
    x: series.map((s) => s.t),
    y: series.map((s) => s.max_ms),
    line: { color: COLORS.muted, width: 1 },
  }, {
    type: 'scatter',
    mode: 'lines+markers',
    name: 'mean',
    x: series.map((s) => s.t),
    y: series.map((s) => s.mean_ms),
    line: { color: COLORS.batch },
    marker: { size: 4 },
    hovertemplate: '%{x|%H:%M:%S}: %{y:.0f} ms<extra></extra>',
  }], baseLayout({ xaxis: { type: 'date' }, yaxis: { title: { text: 'ms' }, rangemode: 'tozero' } }),
  series.length, 'No speed-layer messages read yet.');
}

// ---- page ------------------------------------------------------------------

function renderCoverage() {
  const c = app.views.view_rsvps_country_hour?.coverage;
  if (!c) {
    return;
  }
  const through = Object.values(c.through || {}).flatMap((p) => Object.values(p));
  $('coverage').textContent = `batch run ${c.batch_run_id} ⊕ live generation ${c.generation}; ` +
    `${sum(through.map((o) => o + 1))} offsets covered, ${c.lag_records} behind` +
    (c.realtime_event_time_ms ? `; events to ${fmtTime(c.realtime_event_time_ms)}` : '');
  document.body.dataset.coveredOffsets = String(sum(through.map((o) => o + 1)));
}

function renderRaceHeader() {
  const select = $('race-select');
  const ids = raceIds();
  if (select.options.length !== ids.length) {
    select.replaceChildren(...ids.map((id) => new Option(id, id)));
  }
  select.value = app.race.id || '';
  const info = app.race.info;
  $('race-note').textContent = (info ? `${info.name} ${info.season}, ${info.scheduled_laps} laps. ` : '') +
    `Laps up to batch run ${app.race.batchRun ?? '–'} from the batch layer, later ones as they arrive live` +
    (app.mode === 'poll' ? ' (polling sees each car\'s newest lap only; the laps in between come with the next batch run).' : '.');
}

function renderAll() {
  const renders = [renderCoverage, renderRaceHeader, renderMap, renderCountries, renderRate, renderTopics,
    renderYes, renderPositions, renderGaps, renderClump, renderPrediction, renderLatency];
  for (const render of renders) {
    try {
      render();
    } catch (error) {
      report(error);
    }
  }
}

async function start() {
  try {
    await Promise.all([loadViews(VIEWS), loadLive(), loadGroups(), loadLatency()]);
    await selectRace(newestLiveRace() || raceIds().pop());
  } catch (error) {
    report(error);
  }
  app.loaded = true;
  renderAll();
  document.body.dataset.loaded = 'true';
  $('race-select').addEventListener('change', (e) => selectRace(e.target.value).then(renderAll).catch(report));
  setInterval(() => loadLatency().then(renderLatency).catch(report), POLL_MS);
  let width = window.innerWidth;
  window.addEventListener('resize', () => {
    if (phone() !== (width <= 600)) {
      renderAll();
    }
    width = window.innerWidth;
  });
  if (app.mode === 'sse' && 'EventSource' in window) {
    connectStream();
  } else {
    startPolling();
  }
}

document.addEventListener('DOMContentLoaded', start);
