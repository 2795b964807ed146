// Renders /api/openapi.json as a browsable reference. Plain DOM, no framework and nothing
// fetched from elsewhere: the appliance is often offline and its CSP allows only itself.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function refName(ref) { return ref.split("/").pop(); }

// A schema as an indented outline; named schemas link to their definition below.
function describe(schema, spec, depth) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.oneOf || schema.anyOf || schema.allOf) {
    const parts = (schema.oneOf || schema.anyOf || schema.allOf).map((s) => describe(s, spec, depth));
    return parts.join(schema.allOf ? " & " : " | ");
  }
  let type = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
  if (schema.enum) type = schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (type.startsWith("array") && schema.items) type = describe(schema.items, spec, depth) + "[]";
  if (schema.properties && depth < 1) {
    const required = new Set(schema.required || []);
    const lines = Object.entries(schema.properties).map(([name, prop]) =>
      "  " + name + (required.has(name) ? "" : "?") + ": " + describe(prop, spec, depth + 1) +
      (prop.description ? "   // " + prop.description.split("\n")[0] : ""));
    return "{\n" + lines.join("\n") + "\n}";
  }
  return type;
}

function content(c, spec) {
  return Object.entries(c || {}).map(([type, media]) =>
    el("div", {}, el("code", {}, type), media.schema ? el("pre", {}, describe(media.schema, spec, 0)) : null));
}

function operation(path, method, op, spec) {
  const body = el("div", { class: "body" });
  if (op.description) body.append(el("p", {}, op.description));
  const security = op.security || spec.security || [];
  const schemes = security.map((r) => Object.keys(r).join(" + ") || "none").join(" or ");
  body.append(el("p", {}, "Authentication: ", el("code", {}, schemes || "none")));
  if (op.parameters && op.parameters.length) {
    const rows = op.parameters.map((p) => el("tr", {},
      el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, p.required ? "required" : "optional"),
      el("td", {}, describe(p.schema, spec, 1)), el("td", {}, p.description || "")));
    body.append(el("h4", {}, "Parameters"), el("table", {}, ...rows));
  }
  if (op.requestBody) {
    body.append(el("h4", {}, "Request body" + (op.requestBody.required ? "" : " (optional)")),
      ...content(op.requestBody.content, spec));
  }
  const rows = Object.entries(op.responses || {}).map(([status, r]) => el("tr", {},
    el("td", {}, el("code", {}, status)), el("td", {}, r.description || ""), el("td", {}, ...content(r.content, spec))));
  body.append(el("h4", {}, "Responses"), el("table", {}, ...rows));
  const details = el("details", { class: "op", "data-search": (method + " " + path + " " + (op.tags || []).join(" ")).toLowerCase() },
    el("summary", {}, el("span", { class: "m m-" + method }, method.toUpperCase()), path,
      el("span", { class: "sum" }, (op.summary || op.description || "").split("\n")[0])),
    body);
  return details;
}

async function main() {
  const root = document.getElementById("api");
  let spec;
  try {
    spec = await (await fetch("/api/openapi.json")).json();
  } catch (e) {
    root.textContent = "Cannot load /api/openapi.json: " + e;
    return;
  }
  root.textContent = "";
  if (spec.info && spec.info.description) root.append(el("p", {}, spec.info.description));
  const byTag = new Map((spec.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ["get", "post", "put", "delete", "patch"]) {
      if (!item[method]) continue;
      const tag = (item[method].tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, item[method], spec));
    }
  }
  const tagInfo = new Map((spec.tags || []).map((t) => [t.name, t.description || ""]));
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    root.append(el("section", { class: "tag" }, el("h2", {}, tag), el("p", {}, tagInfo.get(tag) || ""), ...ops));
  }
  const schemas = Object.entries((spec.components || {}).schemas || {}).map(([name, s]) =>
    el("details", { class: "op", id: "schema-" + name, "data-search": name.toLowerCase() },
      el("summary", {}, name, el("span", { class: "sum" }, (s.description || "").split("\n")[0])),
      el("div", { class: "body" }, el("pre", {}, describe(s, spec, 0)))));
  root.append(el("section", { class: "tag" }, el("h2", {}, "schemas"), ...schemas));
  document.getElementById("filter").addEventListener("input", (ev) => {
    const q = ev.target.value.trim().toLowerCase();
    for (const d of root.querySelectorAll("details.op")) d.hidden = q !== "" && !d.dataset.search.includes(q);
  });
}

main();
