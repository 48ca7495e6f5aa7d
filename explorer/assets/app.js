// The explorer's pages: plain DOM, no framework, no build step. Everything
// shown comes from /api/. Chain data is untrusted (anyone can post a job or
// announce a location), so text goes in as text nodes, never as HTML, and
// only http(s) locations become links.
'use strict';

let snapshot = null; // the latest /api/head (or `head` event)
let rendering = 0; // drops a render that a newer one overtook

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeHref(uri) {
  return /^https?:\/\//i.test(uri) ? uri : null;
}

async function api(path) {
  const response = await fetch(path, { cache: 'no-store' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${path}: ${response.status}`);
  return body;
}

function short(hex) {
  if (!hex) return '—';
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex;
}

function account(address) {
  return address ? el('span', { class: 'mono', title: address }, short(address)) : '—';
}

function amount(a) {
  return `${a.display} ${a.token}`;
}

function duration(seconds) {
  if (seconds <= 0) return 'closed';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function time(unix) {
  return unix ? new Date(unix * 1000).toISOString().replace('.000Z', 'Z') : '—';
}

function badge(status) {
  return el('span', { class: `badge ${status}`, 'data-status': status }, status);
}

function table(headers, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map(([text, cls]) => el('th', { class: cls }, text)))),
    el('tbody', {}, rows));
}

function facts(pairs) {
  return el('dl', {}, pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

// ------------------------------------------------------------------ pages

async function jobsPage(params) {
  const status = params.get('status') || '';
  const query = status ? `?status=${encodeURIComponent(status)}` : '';
  const jobs = await api(`/api/jobs${query}`);
  const select = el('select', { id: 'status-filter' },
    ['', 'open', 'claimed', 'submitted', 'finalized', 'slashed', 'cancelled']
      .map((s) => el('option', s === status ? { value: s, selected: '' } : { value: s }, s || 'every status')));
  select.addEventListener('change', () => {
    location.hash = select.value ? `#/?status=${select.value}` : '#/';
  });
  const rows = jobs.map((job) => el('tr', { 'data-job': job.id },
    el('td', { class: 'num' }, el('a', { href: `#/jobs/${job.id}` }, `#${job.id}`)),
    el('td', {}, badge(job.status)),
    el('td', { class: 'num' }, amount(job.reward)),
    el('td', {}, account(job.submitter)),
    el('td', {}, account(job.solver)),
    el('td', {}, job.window_left === null ? '—' : duration(job.window_left)),
    el('td', { class: 'num' }, `${job.games}${job.open_games ? ` (${job.open_games} open)` : ''}`)));
  return [
    el('h1', {}, 'Jobs'),
    el('div', { class: 'filters' }, 'Show ', select),
    jobs.length
      ? table([['Job', 'num'], ['Status'], ['Reward', 'num'], ['Submitter'], ['Solver'],
        ['Challenge window'], ['Games', 'num']], rows)
      : el('p', { class: 'muted' }, 'No jobs.'),
  ];
}

function artifact(label, a) {
  const links = a.locations.map((uri) => {
    const href = safeHref(uri);
    return el('div', {}, href ? el('a', { href, class: 'mono' }, uri) : el('span', { class: 'mono' }, uri));
  });
  return [label, el('div', {}, el('code', {}, a.root), links.length ? links : el('div', { class: 'muted' }, 'not announced'))];
}

// What the explorer found behind each checkpoint root: asked once per page
// and checkpoint (an `ok` is final; anything else is asked again on reload).
const checkpointChecks = new Map();

const CHECKPOINT_STATUS = {
  ok: 'checks out',
  wrong: 'served, wrong root',
  unavailable: 'unavailable',
};

function checkpointCell(jobId, index) {
  const cell = el('td', { class: 'artifact', 'data-checkpoint': String(index) }, 'checking…');
  const key = `${jobId}/${index}`;
  if (!checkpointChecks.has(key)) {
    checkpointChecks.set(key, api(`/api/jobs/${jobId}/checkpoints/${index}`).catch((e) => ({ status: 'unavailable', reason: String(e) })));
  }
  checkpointChecks.get(key).then((c) => {
    if (c.status !== 'ok') checkpointChecks.delete(key);
    cell.textContent = CHECKPOINT_STATUS[c.status] || c.status;
    cell.className = `artifact ${c.status}`;
    cell.title = c.reason || c.source || '';
  });
  return cell;
}

async function jobPage(id) {
  const job = await api(`/api/jobs/${encodeURIComponent(id)}`);
  const out = [
    el('h1', {}, `Job #${job.id} `, badge(job.status)),
    facts([
      ['Submitter', account(job.submitter)],
      ['Solver', account(job.solver)],
      ['Reward', el('span', { id: 'reward' }, amount(job.reward))],
      ['Solver bond', amount(job.solver_bond)],
      ['Claim by', time(job.claim_deadline)],
      ['Submit by', time(job.submit_deadline)],
      ['Challenge window', job.window_end === null ? 'no result yet'
        : el('span', { id: 'window' }, `${duration(job.window_left)} (ends ${time(job.window_end)})`)],
      ['Job hash', el('code', {}, job.job_hash)],
      artifact('Dataset', job.dataset),
    ]),
  ];
  if (job.spec_error) out.push(el('p', { class: 'error' }, `Invalid spec: ${job.spec_error}`));
  if (job.progress.length) out.push(el('h2', {}, 'Training'), await progressSection(job.id));
  if (job.spec) {
    const s = job.spec;
    out.push(el('h2', {}, 'Spec'), facts([
      ['Steps', `${s.steps} (checkpoint every ${s.checkpoint_interval})`],
      ['Batch', String(s.batch_size)],
      ['Seed', String(s.seed)],
    ]), el('pre', { id: 'spec' }, JSON.stringify({ model: s.model, optimizer: s.optimizer, schedule: s.schedule }, null, 2)));
  }
  if (job.result) {
    const r = job.result;
    out.push(el('h2', {}, 'Result'), facts([
      artifact('Trace', r.trace),
      artifact('Model', r.model),
      ['Final state', el('code', {}, r.final_state_root)],
      ['Committed', `block ${r.block}, ${time(r.submitted_at)}`],
    ]));
    const k = job.spec ? job.spec.checkpoint_interval : null;
    out.push(el('h2', {}, 'Checkpoints'), table([['#', 'num'], ['Step', 'num'], ['State root'], ['Artifact']],
      r.checkpoint_roots.map((root, i) => el('tr', { class: 'checkpoint' },
        el('td', { class: 'num' }, String(i)),
        el('td', { class: 'num' }, k === null ? '—' : String(i * k)),
        el('td', {}, el('code', {}, root)),
        checkpointCell(job.id, i)))));
  }
  out.push(el('h2', {}, 'Games'));
  out.push(job.games.length
    ? table([['Game', 'num'], ['Challenger'], ['Checkpoint', 'num'], ['Outcome'], ['Paid out']],
      job.games.map((g) => el('tr', { 'data-game': g.id },
        el('td', { class: 'num' }, el('a', { href: `#/games/${g.id}` }, `#${g.id}`)),
        el('td', {}, account(g.challenger)),
        el('td', { class: 'num' }, String(g.checkpoint)),
        el('td', {}, g.outcome),
        el('td', {}, g.settled ? 'yes' : 'no'))))
    : el('p', { class: 'muted' }, 'No games.'));
  return out;
}

// The solver's losses (relayed by the explorer from the route the solver
// announced), drawn as SVG: the raw loss light, its debiased exponential
// moving average strong, as `vtrain job fetch --loss-png` draws them.
async function progressSection(id) {
  let p;
  try {
    p = await api(`/api/jobs/${encodeURIComponent(id)}/progress`);
  } catch (error) {
    return el('p', { class: 'muted', id: 'progress' }, error.message);
  }
  const points = p.losses.map((loss, i) => [i + 1, loss]).filter(([, loss]) => Number.isFinite(loss));
  const summary = el('p', { id: 'progress' }, `Step ${p.step} of ${p.steps}`,
    points.length ? `, last loss ${points[points.length - 1][1].toFixed(4)} nats` : '');
  if (points.length < 2) return summary;
  const [w, h, left, bottom] = [800, 240, 60, 30];
  const lo = Math.min(...points.map(([, l]) => l));
  const hi = Math.max(...points.map(([, l]) => l));
  const x = (step) => left + ((step - 1) / Math.max(1, p.steps - 1)) * (w - left - 10);
  const y = (loss) => 10 + (hi === lo ? 0.5 : (hi - loss) / (hi - lo)) * (h - bottom - 10);
  const path = (pts) => pts.map(([s, l], i) => `${i ? 'L' : 'M'}${x(s).toFixed(1)},${y(l).toFixed(1)}`).join(' ');
  const alpha = 2 / (Math.max(1, Math.round(p.steps / 40)) + 1);
  let ema = 0;
  const smooth = points.map(([s, l], i) => {
    ema = (1 - alpha) * ema + alpha * l;
    return [s, ema / (1 - (1 - alpha) ** (i + 1))];
  });
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('id', 'loss-chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'training loss per step');
  const add = (tag, attrs, text) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  add('line', { x1: left, y1: h - bottom, x2: w - 10, y2: h - bottom, stroke: '#98a1ad' });
  add('line', { x1: left, y1: 10, x2: left, y2: h - bottom, stroke: '#98a1ad' });
  add('text', { x: left - 6, y: 16, 'text-anchor': 'end', 'font-size': 12 }, hi.toFixed(3));
  add('text', { x: left - 6, y: h - bottom, 'text-anchor': 'end', 'font-size': 12 }, lo.toFixed(3));
  add('text', { x: left, y: h - 10, 'font-size': 12 }, 'step 1');
  add('text', { x: w - 10, y: h - 10, 'text-anchor': 'end', 'font-size': 12 }, `step ${p.steps}`);
  add('path', { d: path(points), fill: 'none', stroke: '#9db7ea', 'stroke-width': 1, class: 'raw' });
  add('path', { d: path(smooth), fill: 'none', stroke: '#2057c7', 'stroke-width': 2, class: 'smooth' });
  return el('div', {}, summary, svg,
    el('p', { class: 'muted' }, 'Loss in nats per step: raw (light) and its moving average (strong), from ', el('code', {}, p.source)));
}

const LEVELS = [
  ['L1 step', 'interval → step'],
  ['L2 list', 'step → list'],
  ['L3 tensor and element', 'tensor → element'],
  ['L4 micro-step', 'element → micro-step'],
  ['leaf: one fp32 operation', 'one fp32 operation'],
];

async function gamePage(id) {
  const g = await api(`/api/games/${encodeURIComponent(id)}`);
  const current = LEVELS.findIndex(([level]) => level === g.level);
  const resolved = g.phase_name === 'resolved';
  const levels = el('ol', { class: 'levels', id: 'levels' }, LEVELS.map(([level, label], i) => el('li', {
    class: resolved || i < current ? 'done' : i === current ? 'current' : '',
  }, label)));
  const side = (address) => (address === g.solver ? 'solver' : address === g.challenger ? 'challenger' : 'other');
  return [
    el('h1', {}, `Game #${g.id} on `, el('a', { href: `#/jobs/${g.job_id}` }, `job #${g.job_id}`), ' ',
      el('span', { class: 'badge', id: 'outcome' }, g.outcome)),
    levels,
    facts([
      ['Phase', `${g.phase_name} (${g.level})`],
      ['Solver', account(g.solver)],
      ['Challenger', account(g.challenger)],
      ['Bond', amount(g.bond)],
      ['Checkpoint', String(g.checkpoint)],
      ['Steps', el('span', { id: 'range' }, `${g.lo} agreed, ${g.hi} disputed`)],
      ['Element / micro-step', `${g.element} / ${g.micro_step}`],
      ['Clocks left', `solver ${duration(g.solver_clock)}, challenger ${duration(g.challenger_clock)}`],
      ['To move', g.mover ? [account(g.mover), ` until ${time(g.deadline)}`] : '—'],
      ['Decided by', g.reason || '—'],
      ['Paid out', g.settled ? 'yes' : 'no'],
    ]),
    el('h2', {}, `Moves (${g.moves.length})`),
    table([['#', 'num'], ['Move'], ['By'], ['Clock left', 'num'], ['Gas', 'num'], ['Block', 'num'], ['Transaction'], ['Details']],
      g.moves.map((m, i) => el('tr', { class: 'move' },
        el('td', { class: 'num' }, String(i + 1)),
        el('td', {}, m.event),
        el('td', {}, side(m.sender)),
        el('td', { class: 'num clock' }, m.clock_left === null ? '—' : duration(m.clock_left)),
        el('td', { class: 'num' }, m.gas_used.toLocaleString('en-US')),
        el('td', { class: 'num' }, String(m.block)),
        el('td', {}, el('code', { title: m.tx }, short(m.tx))),
        el('td', {}, el('code', {}, m.fields))))),
    el('h2', {}, `Payouts (${g.payouts.length})`),
    g.payouts.length === 0
      ? el('p', { class: 'muted', id: 'payouts' }, g.settled ? 'nothing was credited' : 'not paid out yet')
      : table([['For'], ['To'], ['Who'], ['Amount', 'num'], ['Transaction']],
        g.payouts.map((p) => el('tr', { class: 'payout' },
          el('td', {}, p.kind === 'share' ? 'share of the solver\'s bond' : 'the game\'s bond'),
          el('td', {}, account(p.to)),
          el('td', {}, p.role),
          el('td', { class: 'num' }, amount(p.amount)),
          el('td', {}, el('code', { title: p.tx }, short(p.tx)))))),
  ];
}

// ------------------------------------------------------------------ routing and live updates

async function render() {
  const ticket = ++rendering;
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query || '');
  const parts = (path || '/').split('/').filter(Boolean);
  let content;
  try {
    if (parts[0] === 'jobs' && parts[1]) content = await jobPage(parts[1]);
    else if (parts[0] === 'games' && parts[1]) content = await gamePage(parts[1]);
    else content = await jobsPage(params);
  } catch (error) {
    content = [el('p', { class: 'error', id: 'error' }, error.message)];
  }
  if (ticket !== rendering) return;
  document.getElementById('main').replaceChildren(...content);
  document.body.dataset.version = snapshot ? snapshot.version : '';
}

function showHead() {
  document.getElementById('head').textContent =
    snapshot ? `block ${snapshot.block} · ${time(snapshot.time)}` : 'connecting…';
}

function follow() {
  const events = new EventSource('/api/events');
  const live = document.getElementById('live');
  events.addEventListener('head', (event) => {
    const next = JSON.parse(event.data);
    const changed = !snapshot || next.version !== snapshot.version;
    snapshot = next;
    live.textContent = 'live';
    live.className = 'badge live';
    showHead();
    if (changed) render();
  });
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting';
    live.className = 'badge';
  });
}

window.addEventListener('hashchange', render);
window.addEventListener('DOMContentLoaded', () => {
  follow();
  render();
});
