// The logs explorer page. Plain modern JS, no build step, no dependencies.
//
// Log entries are attacker-controlled: every piece of data reaches the DOM through
// textContent / createTextNode / setAttribute, never through innerHTML. The page's CSP forbids
// inline script, so even a mistake here could not run injected markup.
'use strict';

const PAGE_SIZE = 50;
const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];
const RANGES = {
  '1h': { millis: 3600e3, buckets: 60 },
  '1d': { millis: 86400e3, buckets: 96 },
  '7d': { millis: 7 * 86400e3, buckets: 84 },
};
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const ui = {
  project: $('project'), query: $('query'), queryError: $('query-error'), range: $('range'),
  customRange: $('custom-range'), from: $('from'), to: $('to'), severity: $('severity'),
  run: $('run'), tail: $('tail'), summary: $('summary'), legend: $('legend'),
  histogram: $('histogram'), tailStatus: $('tail-status'), entries: $('entries'),
  status: $('status'), more: $('more'),
};

// What the results on screen were asked with; `generation` drops answers to older queries.
const state = {
  generation: 0, projects: [], window: null, userFilter: '', filterIsEmpty: true,
  pageToken: null, loading: false, histogram: null, tail: null, tailCount: 0,
};

// ---- small DOM helpers (text only) ----

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

function severityOf(entry) {
  let s = entry.severity;
  if (typeof s === 'number') s = SEVERITIES[Math.min(8, Math.max(0, Math.floor(s / 100)))];
  return SEVERITIES.includes(s) ? s : 'DEFAULT';
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

function formatTime(text) {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return { date: '', time: String(text || '') };
  return {
    date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`,
  };
}

function toLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ---- the filter sent to the API ----

// The time window the histogram and the list share: relative ranges end at the next whole
// bucket, so bars line up with the clock and counts agree with the list.
function timeWindow() {
  const choice = ui.range.value;
  if (choice === 'custom') {
    const start = new Date(ui.from.value);
    const end = new Date(ui.to.value);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) return null;
    return { start, end, buckets: 60, label: 'custom range' };
  }
  const { millis, buckets } = RANGES[choice] || RANGES['1h'];
  const width = millis / buckets;
  const end = new Date(Math.ceil((Date.now() + 1) / width) * width);
  return { start: new Date(end - millis), end, buckets, label: ui.range.selectedOptions[0].textContent.toLowerCase() };
}

function resourceNames() {
  return ui.project.value ? [ui.project.value] : state.projects;
}

function listFilter() {
  const { start, end } = state.window;
  const parts = [`timestamp>="${start.toISOString()}"`, `timestamp<"${end.toISOString()}"`];
  if (ui.severity.value) parts.push(`severity>=${ui.severity.value}`);
  // Newlines keep a trailing `--` comment in the user's query from swallowing the `)`.
  if (!state.filterIsEmpty) parts.push(`(\n${state.userFilter}\n)`);
  return parts.join(' AND ');
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
    error.queryError = data && data.error && data.error.queryError;
    throw error;
  }
  return data || {};
}

// ---- parse errors, pointed at ----

function showQueryError(error) {
  const box = ui.queryError;
  box.querySelector('.message').textContent = error.message;
  const pointer = box.querySelector('.pointer');
  const where = error.queryError;
  if (where) {
    const line = ui.query.value.split('\n')[where.line - 1] || '';
    pointer.textContent = `${line}\n${' '.repeat(Math.max(0, where.column - 1))}^ expected ${where.expected}`;
    pointer.hidden = false;
    const at = Math.min(ui.query.value.length, where.position);
    ui.query.setSelectionRange(at, Math.min(ui.query.value.length, at + Math.max(1, where.found.length - 2)));
  } else {
    pointer.textContent = '';
    pointer.hidden = true;
  }
  box.hidden = false;
  ui.query.setAttribute('aria-invalid', 'true');
  ui.query.focus();
}

function clearQueryError() {
  ui.queryError.hidden = true;
  ui.query.removeAttribute('aria-invalid');
}

// ---- running a query ----

async function runQuery() {
  const generation = ++state.generation;
  document.body.dataset.state = 'loading';
  clearQueryError();
  saveToUrl();
  const window = timeWindow();
  if (!window) {
    showQueryError(new Error('The custom range needs a start before its end.'));
    document.body.dataset.state = 'error';
    return;
  }
  let validated;
  try {
    validated = await postJson('/ui/api/validate', { filter: ui.query.value });
  } catch (error) {
    if (generation === state.generation) {
      showQueryError(error);
      document.body.dataset.state = 'error';
    }
    return;
  }
  if (generation !== state.generation) return;
  Object.assign(state, {
    window, userFilter: ui.query.value, filterIsEmpty: !!validated.empty, pageToken: null, tailCount: 0,
  });
  ui.entries.replaceChildren();
  ui.more.hidden = true;
  if (!resourceNames().length) {
    ui.summary.textContent = 'No entries yet: write some with POST /v2/entries:write.';
    drawHistogram(null);
    document.body.dataset.state = 'ready';
    restartTail();
    return;
  }
  ui.summary.textContent = 'Loading…';
  await Promise.all([loadHistogram(generation), loadPage(generation)]);
  if (generation === state.generation) {
    document.body.dataset.state = 'ready';
    restartTail();
  }
}

async function loadHistogram(generation) {
  const { start, end, buckets, label } = state.window;
  try {
    const data = await postJson('/ui/api/histogram', {
      resourceNames: resourceNames(), filter: state.userFilter, minSeverity: ui.severity.value,
      start: start.toISOString(), end: end.toISOString(), buckets,
    });
    if (generation !== state.generation) return;
    state.histogram = data;
    const plural = data.total === 1 ? 'entry' : 'entries';
    ui.summary.textContent = `${data.total.toLocaleString()}${data.truncated ? '+' : ''} ${plural} · ${label}`;
    ui.summary.dataset.total = String(data.total);
    drawHistogram(data);
  } catch (error) {
    if (generation !== state.generation) return;
    ui.summary.textContent = `Histogram failed: ${error.message}`;
    drawHistogram(null);
  }
}

async function loadPage(generation) {
  if (state.loading) return;
  state.loading = true;
  ui.more.disabled = true;
  ui.status.textContent = 'Loading entries…';
  try {
    const body = { resourceNames: resourceNames(), filter: listFilter(), orderBy: 'timestamp desc', pageSize: PAGE_SIZE };
    if (state.pageToken) body.pageToken = state.pageToken;
    const data = await postJson('/v2/entries:list', body);
    if (generation !== state.generation) return;
    const rows = (data.entries || []).map(entryRow);
    ui.entries.append(...rows);
    state.pageToken = data.nextPageToken || null;
    ui.more.hidden = !state.pageToken;
    const shown = ui.entries.children.length;
    ui.status.textContent = shown === 0 ? 'No entries match this query in this time range.'
      : state.pageToken ? `Showing ${shown.toLocaleString()} entries, newest first.`
        : `Showing all ${shown.toLocaleString()} entries, newest first.`;
  } catch (error) {
    if (generation === state.generation) ui.status.textContent = `Could not list entries: ${error.message}`;
  } finally {
    state.loading = false;
    ui.more.disabled = false;
  }
}

// ---- histogram ----

function drawHistogram(data) {
  const chart = ui.histogram;
  chart.replaceChildren();
  const width = Math.max(200, chart.clientWidth || 600);
  const height = chart.clientHeight || 120;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  if (!data) return;
  const left = 34, bottom = 18, top = 6;
  const plotWidth = width - left - 4, plotHeight = height - bottom - top;
  const totals = data.buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  const max = Math.max(1, ...totals);
  const step = plotWidth / data.buckets.length;
  const barWidth = Math.max(1, step - (step > 4 ? 1 : 0));

  chart.append(svg('line', { class: 'axis', x1: left, x2: width - 4, y1: top + plotHeight + 0.5, y2: top + plotHeight + 0.5 }));
  const half = Math.round(max / 2);
  for (const value of half > 0 && half < max ? [max, half] : [max]) {
    const y = top + plotHeight - (value / max) * plotHeight;
    chart.append(svg('line', { class: 'grid', x1: left, x2: width - 4, y1: y + 0.5, y2: y + 0.5 }));
    const label = svg('text', { class: 'tick', x: left - 4, y: y + 4, 'text-anchor': 'end' });
    label.textContent = String(value);
    chart.append(label);
  }
  const ticks = Math.max(2, Math.min(6, Math.floor(plotWidth / 110)));
  const long = data.bucketMillis * data.buckets.length > 2 * 86400e3;
  for (let i = 0; i <= ticks; i++) {
    const at = data.startMillis + (data.bucketMillis * data.buckets.length * i) / ticks;
    const d = new Date(at);
    const label = svg('text', {
      class: 'tick', x: left + (plotWidth * i) / ticks, y: height - 4,
      'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle',
    });
    label.textContent = long ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:00`
      : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    chart.append(label);
  }
  data.buckets.forEach((bucket, i) => {
    if (!totals[i]) return;
    const group = svg('g', { class: 'bar', 'data-bucket': i });
    let y = top + plotHeight;
    for (const severity of SEVERITIES) {
      const n = bucket.counts[severity];
      if (!n) continue;
      const h = (n / max) * plotHeight;
      y -= h;
      group.append(svg('rect', { class: `sev-fill-${severity}`, x: left + i * step, y, width: barWidth, height: h, 'data-severity': severity, 'data-count': n }));
    }
    const from = formatTime(bucket.startMillis);
    const title = svg('title');
    title.textContent = `${from.date} ${from.time.slice(0, 8)}: ${SEVERITIES.filter((s) => bucket.counts[s]).map((s) => `${bucket.counts[s]} ${s}`).join(', ')}\nClick to zoom in`;
    group.append(title);
    group.addEventListener('click', () => zoomTo(bucket.startMillis, bucket.startMillis + data.bucketMillis));
    chart.append(group);
  });
}

function zoomTo(startMillis, endMillis) {
  ui.range.value = 'custom';
  ui.from.value = toLocalInput(new Date(Math.floor(startMillis / 1000) * 1000));
  ui.to.value = toLocalInput(new Date(Math.ceil(endMillis / 1000) * 1000));
  ui.customRange.hidden = false;
  runQuery();
}

function drawLegend() {
  ui.legend.replaceChildren(...SEVERITIES.map((s) =>
    el('li', {}, el('span', { class: `swatch sev-bg-${s}`, 'aria-hidden': 'true' }), s.charAt(0) + s.slice(1).toLowerCase())));
}

// ---- one entry ----

function resourceText(resource) {
  if (!resource || typeof resource !== 'object') return '';
  const labels = resource.labels || {};
  const where = {
    k8s_container: [labels.namespace_name, labels.pod_name, labels.container_name],
    container: [labels.namespace_id, labels.pod_id, labels.container_name],
    k8s_pod: [labels.namespace_name, labels.pod_name],
    gce_instance: [labels.instance_id],
    cloud_run_revision: [labels.service_name],
  }[resource.type] || Object.values(labels).slice(0, 2);
  const detail = where.filter((v) => typeof v === 'string' && v).join('/');
  return detail || String(resource.type || '');
}

function resourceTitle(resource) {
  if (!resource || typeof resource !== 'object') return '';
  const labels = Object.entries(resource.labels || {}).map(([k, v]) => `${k}=${v}`);
  return [String(resource.type || ''), ...labels].join('\n');
}

function summaryText(entry) {
  let text = '';
  const http = entry.httpRequest;
  if (http && typeof http === 'object') {
    text = [http.requestMethod, http.requestUrl, http.status].filter((v) => v !== undefined).join(' ');
  }
  let payload = '';
  if (typeof entry.textPayload === 'string') payload = entry.textPayload;
  else if (entry.jsonPayload && typeof entry.jsonPayload === 'object') {
    const j = entry.jsonPayload;
    const message = [j.message, j.msg, j.text, j.error].find((v) => typeof v === 'string');
    payload = message !== undefined ? message : JSON.stringify(j);
  } else if (entry.protoPayload && typeof entry.protoPayload === 'object') {
    payload = String(entry.protoPayload['@type'] || JSON.stringify(entry.protoPayload));
  }
  // A multi-line payload (a traceback) shows its first and last lines: the exception is last.
  const lines = payload.split('\n').map((l) => l.trim()).filter(Boolean);
  const firstLine = lines.length > 1 ? `${lines[0]} … ${lines[lines.length - 1]}` : lines[0] || '';
  const joined = text && firstLine ? `${text} · ${firstLine}` : text || firstLine;
  return joined.length > 500 ? `${joined.slice(0, 500)}…` : joined;
}

function entryRow(entry) {
  const severity = severityOf(entry);
  const when = formatTime(entry.timestamp);
  const toggle = el('button', { type: 'button', class: 'entry-toggle', 'aria-expanded': 'false' },
    el('span', { class: `sev sev-bg-${severity}` }, severity),
    el('span', { class: 'time' }, el('span', { class: 'date' }, when.date), ' ', when.time),
    el('span', { class: 'resource', title: resourceTitle(entry.resource) }, resourceText(entry.resource)),
    el('span', { class: 'summary' }, summaryText(entry)));
  const item = el('li', { class: `entry sev-border-${severity}`, 'data-severity': severity }, toggle);
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') === 'true';
    toggle.setAttribute('aria-expanded', String(!open));
    let detail = item.querySelector('.entry-detail');
    if (!detail) {
      detail = entryDetail(entry);
      item.append(detail);
    }
    detail.hidden = open;
  });
  return item;
}

// ---- the whole entry as JSON, each value with an add-to-query button ----

function fieldPath(segments) {
  return segments.map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join('.');
}

function queryLiteral(path, value) {
  if (path === 'severity' && typeof value === 'string') return value;
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  return String(value);
}

function addToQuery(clause) {
  const current = ui.query.value.replace(/\s+$/, '');
  ui.query.value = current ? `${current}\n${clause}` : clause;
  runQuery();
}

function jsonLines(value, segments, key, depth, last, out, inArray) {
  const line = el('div', { class: 'json-line' });
  line.style.paddingLeft = `${depth * 1.25}em`;
  if (key !== null) line.append(el('span', { class: 'json-key' }, JSON.stringify(key)), ': ');
  const comma = last ? '' : ',';
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const keys = isArray ? value.map((_, i) => i) : Object.keys(value);
    if (!keys.length) {
      line.append(isArray ? '[]' : '{}', comma);
      out.push(line);
      return;
    }
    line.append(isArray ? '[' : '{');
    out.push(line);
    keys.forEach((k, i) => jsonLines(value[k], isArray ? segments : [...segments, String(k)], isArray ? null : String(k), depth + 1, i === keys.length - 1, out, inArray || isArray));
    const close = el('div', { class: 'json-line' }, (isArray ? ']' : '}') + comma);
    close.style.paddingLeft = `${depth * 1.25}em`;
    out.push(close);
    return;
  }
  const kind = value === null ? 'null' : typeof value;
  line.append(el('span', { class: `json-${kind}` }, JSON.stringify(value)), comma);
  if (value !== null && !inArray && segments.length) {
    const clause = `${fieldPath(segments)}=${queryLiteral(fieldPath(segments), value)}`;
    const add = el('button', { type: 'button', class: 'add-field', title: `Add ${clause} to the query`, 'aria-label': `Add ${clause} to the query`, 'data-clause': clause }, '+');
    add.addEventListener('click', () => addToQuery(clause));
    line.append(' ', add);
  }
  out.push(line);
}

function entryDetail(entry) {
  const lines = [];
  jsonLines(entry, [], null, 0, true, lines, false);
  return el('div', { class: 'entry-detail' }, el('div', { class: 'json', role: 'group', 'aria-label': 'The whole entry as JSON' }, ...lines));
}

// ---- live tail ----

/** Rows live tail keeps on the page; older arrivals are removed as new ones come. */
const MAX_TAIL_ROWS = 500;

function restartTail() {
  if (state.tail) { state.tail.close(); state.tail = null; }
  const on = ui.tail.getAttribute('aria-pressed') === 'true';
  document.body.dataset.tail = on ? 'connecting' : 'off';
  ui.tailStatus.hidden = !on;
  if (!on) return;
  const params = new URLSearchParams({
    filter: state.userFilter, minSeverity: ui.severity.value, resourceNames: ui.project.value,
  });
  const source = new EventSource(`/ui/api/tail?${params}`);
  state.tail = source;
  ui.tailStatus.textContent = 'Live tail: connecting…';
  source.addEventListener('ready', () => {
    document.body.dataset.tail = 'ready';
    ui.tailStatus.textContent = 'Live tail: new matching entries appear at the top as they are written.';
  });
  source.addEventListener('entry', (event) => {
    let entry;
    try { entry = JSON.parse(event.data); } catch { return; }
    const row = entryRow(entry);
    row.classList.add('arrived');
    ui.entries.prepend(row);
    state.tailCount += 1;
    // A tail left open for hours must not grow the page without bound: keep the newest rows.
    const arrived = ui.entries.querySelectorAll(':scope > li.arrived');
    for (let i = MAX_TAIL_ROWS; i < arrived.length; i += 1) arrived[i].remove();
    const count = `${state.tailCount} new ${state.tailCount === 1 ? 'entry' : 'entries'} since the query ran`;
    ui.tailStatus.textContent = state.tailCount > MAX_TAIL_ROWS
      ? `Live tail: ${count}; showing the newest ${MAX_TAIL_ROWS}. Run the query again to page through all of them.`
      : `Live tail: ${count}.`;
    if (ui.status.textContent.startsWith('No entries')) ui.status.textContent = '';
  });
  source.addEventListener('lagged', (event) => {
    ui.tailStatus.textContent = `Live tail fell behind and skipped ${Number(event.data)} entries; run the query again to see them.`;
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) ui.tailStatus.textContent = 'Live tail stopped: the emulator closed the stream.';
    else ui.tailStatus.textContent = 'Live tail: reconnecting…';
  });
}

// ---- page state in the URL, so a reload or a shared link shows the same query ----

function saveToUrl() {
  const params = new URLSearchParams();
  if (ui.query.value) params.set('q', ui.query.value);
  if (ui.range.value !== '1h') params.set('range', ui.range.value);
  if (ui.range.value === 'custom') { params.set('from', ui.from.value); params.set('to', ui.to.value); }
  if (ui.severity.value) params.set('severity', ui.severity.value);
  if (ui.project.value) params.set('project', ui.project.value);
  const search = params.toString();
  history.replaceState(null, '', search ? `?${search}` : location.pathname);
}

function loadFromUrl() {
  const params = new URLSearchParams(location.search);
  ui.query.value = params.get('q') || '';
  const range = params.get('range');
  if (range && [...ui.range.options].some((o) => o.value === range)) ui.range.value = range;
  if (params.get('from')) ui.from.value = params.get('from');
  if (params.get('to')) ui.to.value = params.get('to');
  const severity = params.get('severity');
  if (severity && SEVERITIES.includes(severity)) ui.severity.value = severity;
  ui.customRange.hidden = ui.range.value !== 'custom';
  return params.get('project');
}

// ---- wiring ----

async function start() {
  drawLegend();
  const project = loadFromUrl();
  try {
    const data = await (await fetch('/ui/api/projects')).json();
    state.projects = data.projects || [];
  } catch { state.projects = []; }
  for (const name of state.projects) ui.project.append(el('option', { value: name }, name.replace(/^projects\//, '')));
  if (project && state.projects.includes(project)) ui.project.value = project;

  ui.query.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      runQuery();
    }
  });
  ui.query.addEventListener('input', clearQueryError);
  ui.run.addEventListener('click', runQuery);
  ui.more.addEventListener('click', () => loadPage(state.generation));
  ui.range.addEventListener('change', () => {
    const custom = ui.range.value === 'custom';
    ui.customRange.hidden = !custom;
    if (custom && !ui.from.value && state.window) {
      ui.from.value = toLocalInput(state.window.start);
      ui.to.value = toLocalInput(state.window.end);
    }
    runQuery();
  });
  for (const input of [ui.from, ui.to]) {
    input.addEventListener('change', runQuery);
    input.addEventListener('keydown', (event) => { if (event.key === 'Enter') runQuery(); });
  }
  ui.severity.addEventListener('change', runQuery);
  ui.project.addEventListener('change', runQuery);
  ui.tail.addEventListener('click', () => {
    const on = ui.tail.getAttribute('aria-pressed') !== 'true';
    ui.tail.setAttribute('aria-pressed', String(on));
    ui.tail.textContent = on ? 'Stop live tail' : 'Live tail';
    restartTail();
  });
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLSelectElement;
    if (event.key === '/' && !typing) { event.preventDefault(); ui.query.focus(); }
  });
  // Infinite scroll: the "Load more" button loads the next page when it scrolls into view.
  new IntersectionObserver((seen) => {
    if (seen.some((s) => s.isIntersecting) && state.pageToken && !state.loading) loadPage(state.generation);
  }, { rootMargin: '200px' }).observe(ui.more);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => drawHistogram(state.histogram), 100);
  });
  await runQuery();
}

start();
