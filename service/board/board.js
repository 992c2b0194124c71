// The storywire board: top stories, a story page, match, live updates (SSE) and the map. No build step.
"use strict";

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const palette = ["#1f6feb", "#e5484d", "#12b76a", "#f79009", "#7a5af8", "#06aed4", "#ee46bc", "#667085", "#a15c07", "#039855"];
const colourOf = (id) => { let h = 0; for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) >>> 0; return palette[h % palette.length]; };

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function sparkline(counts) {
  const max = Math.max(1, ...counts);
  const step = 100 / Math.max(1, counts.length - 1);
  const points = counts.map((n, i) => `${(i * step).toFixed(1)},${(28 - (n / max) * 26).toFixed(1)}`).join(" ");
  return `<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-label="articles per 4 h over 48 h"><polyline points="${points}"/></svg>`;
}

const chips = (items, cls = "") => `<ul class="chips">${items.map((t) => `<li class="chip ${cls}">${esc(t)}</li>`).join("")}</ul>`;

function storyCard(s) {
  return `<li class="story-card" data-id="${esc(s.id)}" style="border-left: 4px solid ${colourOf(s.id)}">
    <div class="size">${s.size}<small>${s.size === 1 ? "article" : "articles"}</small></div>
    <div><div class="title">${esc(s.title)}</div>${chips(s.entities.slice(0, 5))}${chips(s.topics.slice(0, 3), "topic")}</div>
    ${sparkline(s.sparkline)}</li>`;
}

async function loadStories(flashIds = new Set()) {
  const page = await api(`/api/stories?limit=20&sort=${$("#sort").value}`);
  const list = $("#stories");
  list.innerHTML = page.items.length ? page.items.map(storyCard).join("") : `<li class="muted">No stories yet.</li>`;
  list.dataset.now = page.now;
  for (const card of list.querySelectorAll(".story-card")) {
    if (flashIds.has(card.dataset.id)) { card.classList.add("flash"); setTimeout(() => card.classList.remove("flash"), 1500); }
  }
}

async function loadTrends() {
  for (const what of ["entities", "topics"]) {
    const trend = await api(`/api/trending/${what}?limit=10`);
    $(`#trending-${what}`).innerHTML = trend.items.length
      ? trend.items.map((t) => `<li class="chip ${what === "topics" ? "topic" : ""}" title="${t.recent} in ${trend.recent_hours} h, ${t.baseline} in the ${trend.baseline_hours} h before">${esc(what === "entities" ? t.entity : t.label)} ×${t.velocity}</li>`).join("")
      : `<li class="muted">nothing rising</li>`;
  }
}

async function loadMap() {
  const { points, method } = await api("/api/map");
  $("#map-method").textContent = method.toUpperCase();
  $("#map").innerHTML = points.map((p) => `<circle cx="${p.x}" cy="${-p.y}" r="0.03" fill="${colourOf(p.story_id)}" data-story="${esc(p.story_id)}"><title>${esc(p.title)}</title></circle>`).join("");
}

async function showStory(id) {
  const section = $("#story");
  $("#home").hidden = true;
  section.hidden = false;
  section.innerHTML = `<p class="muted">loading…</p>`;
  let s;
  try { s = await api(`/api/stories/${encodeURIComponent(id)}`); } catch (error) { section.innerHTML = `<p>${esc(error.message)}</p><p><a href="#/">back</a></p>`; return; }
  const link = (sid) => `<a href="#/story/${encodeURIComponent(sid)}">${esc(sid)}</a>`;
  const lineage = s.lineage;
  const hours = s.timeline.articles_per_hour;
  const maxN = Math.max(1, ...hours.map((h) => h.articles));
  const t0 = hours.length ? Date.parse(hours[0].hour) : 0;
  const at = (h) => (Date.parse(h.hour) - t0) / 3_600_000;
  const width = hours.length ? at(hours[hours.length - 1]) + 1 : 1;
  const bars = hours.map((h) => `<rect x="${at(h)}" y="${10 - (h.articles / maxN) * 10}" width="0.8" height="${(h.articles / maxN) * 10}"><title>${esc(h.hour)}: ${h.articles}</title></rect>`).join("");
  section.innerHTML = `
    <p><a href="#/">← top stories</a></p>
    ${s.resolved_from ? `<p class="muted">${esc(s.resolved_from)} was merged into this story (${s.merge_chain.map(esc).join(" → ")}).</p>` : ""}
    <div class="panel"><h1 id="story-title">${esc(s.title)}</h1>
      <p class="muted">${esc(s.id)} · ${esc(s.status)} · ${s.size} articles · ${esc(s.first_seen)} – ${esc(s.last_seen)} · version ${s.version}</p>
      ${chips(s.top_entities.map((e) => `${e.name} (${e.articles})`))}${chips(s.top_topics.map((t) => `${t.label} (${t.articles})`), "topic")}
      <p class="muted">keywords: ${s.keywords.map(esc).join(", ")}</p></div>
    <div class="panel"><h2>Timeline</h2><svg class="bars" viewBox="0 0 ${width} 10" preserveAspectRatio="none">${bars}</svg>
      <p class="muted">articles per hour of publication, ${esc(hours[0]?.hour)} to ${esc(hours[hours.length - 1]?.hour)}</p></div>
    <div class="panel"><h2>Lineage</h2><ul>
      <li>merged into: ${lineage.merged_into ? link(lineage.merged_into) : "—"}</li>
      <li>merged from: ${lineage.merged_from.map(link).join(", ") || "—"}</li>
      <li>split from: ${lineage.split_from.map(link).join(", ") || "—"}</li>
      <li>split into: ${lineage.split_into.map(link).join(", ") || "—"}</li></ul></div>
    <div class="panel"><h2>Articles (${s.member_count})</h2><ol class="members">${s.members.map((m) => `<li><span class="muted">${esc(m.published_at)}</span> ${esc(m.title)}</li>`).join("")}</ol></div>`;
}

function showHome() {
  $("#story").hidden = true;
  $("#home").hidden = false;
}

function route() {
  const match = location.hash.match(/^#\/story\/(.+)$/);
  if (match) showStory(decodeURIComponent(match[1])); else showHome();
}

async function onMatch(event) {
  event.preventDefault();
  const box = $("#match-result");
  box.hidden = false;
  box.textContent = "matching…";
  try {
    const m = await api("/api/match", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ title: $("#match-title").value, k: 5 }) });
    const verdict = m.would_join
      ? `would join <a href="#/story/${encodeURIComponent(m.story_id)}">${esc(m.story_id)}</a> (score ${m.score})`
      : `would open a new story (best score ${m.score ?? "—"} is below ${m.threshold})`;
    box.innerHTML = `<strong>${verdict}</strong><ol>${m.nearest_articles.map((a) => `<li>${esc(a.title)} <span class="muted">${a.similarity} · ${esc(a.story_id)}</span></li>`).join("")}</ol>`;
  } catch (error) {
    box.textContent = error.message;
  }
}

function listen() {
  const live = $("#live");
  const source = new EventSource("/api/events");
  let pending = new Set();
  let timer = null;
  let count = 0;
  source.onopen = () => { live.classList.add("on"); live.textContent = `live · ${count} updates`; };
  source.onerror = () => { live.classList.remove("on"); live.textContent = "reconnecting…"; };
  source.addEventListener("story", (event) => {
    const change = JSON.parse(event.data);
    count += 1;
    live.textContent = `live · ${count} updates`;
    live.dataset.updates = String(count);
    pending.add(change.id);
    clearTimeout(timer);
    timer = setTimeout(() => { const ids = pending; pending = new Set(); refresh(ids); }, 400);
  });
}

async function refresh(flashIds) {
  await loadStories(flashIds);
  const match = location.hash.match(/^#\/story\/(.+)$/);
  if (match && flashIds.has(decodeURIComponent(match[1]))) showStory(decodeURIComponent(match[1]));
  loadTrends();
  loadMap();
}

$("#stories").addEventListener("click", (event) => {
  const card = event.target.closest(".story-card");
  if (card) location.hash = `#/story/${encodeURIComponent(card.dataset.id)}`;
});
$("#map").addEventListener("click", (event) => {
  const story = event.target.dataset?.story;
  if (story) location.hash = `#/story/${encodeURIComponent(story)}`;
});
$("#map").addEventListener("mouseover", (event) => {
  const title = event.target.querySelector?.("title");
  if (title) $("#map-hover").textContent = title.textContent;
});
$("#sort").addEventListener("change", () => loadStories());
$("#match-form").addEventListener("submit", onMatch);
window.addEventListener("hashchange", route);
loadStories().then(() => { loadTrends(); loadMap(); listen(); route(); });
