// Generates ../../data/us-map.json: one SVG path per US jurisdiction
// (50 states + DC + Puerto Rico) from us-atlas states-10m.json
// (US Census Bureau cartographic boundary files, public domain).
//
// Usage: cd tools/map && npm ci && node build.mjs

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { feature } from "topojson-client";
import { geoAlbersUsa, geoContains, geoMercator, geoPath } from "d3-geo";

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, "..", "..", "data", "us-map.json");

const WIDTH = 960;
const HEIGHT = 600;
const PAD = 10; // keep strokes away from the viewBox edge

// Puerto Rico inset frame (lower right, east of Florida, clear of all states).
const PR_INSET = { x: 845, y: 525, width: 100, height: 40 };
const PR_INSET_PAD = 5;

// DC marker: a clickable circle in the Atlantic, east(-south-east) of DC.
const DC_MARKER_OFFSET = [45, 10];
const DC_MARKER_R = 7;

// FIPS state code -> [USPS code, name]. Anything not listed is dropped
// (American Samoa 60, Guam 66, Northern Mariana Islands 69, US Virgin Islands 78).
const FIPS = {
  "01": ["AL", "Alabama"],
  "02": ["AK", "Alaska"],
  "04": ["AZ", "Arizona"],
  "05": ["AR", "Arkansas"],
  "06": ["CA", "California"],
  "08": ["CO", "Colorado"],
  "09": ["CT", "Connecticut"],
  "10": ["DE", "Delaware"],
  "11": ["DC", "District of Columbia"],
  "12": ["FL", "Florida"],
  "13": ["GA", "Georgia"],
  "15": ["HI", "Hawaii"],
  "16": ["ID", "Idaho"],
  "17": ["IL", "Illinois"],
  "18": ["IN", "Indiana"],
  "19": ["IA", "Iowa"],
  "20": ["KS", "Kansas"],
  "21": ["KY", "Kentucky"],
  "22": ["LA", "Louisiana"],
  "23": ["ME", "Maine"],
  "24": ["MD", "Maryland"],
  "25": ["MA", "Massachusetts"],
  "26": ["MI", "Michigan"],
  "27": ["MN", "Minnesota"],
  "28": ["MS", "Mississippi"],
  "29": ["MO", "Missouri"],
  "30": ["MT", "Montana"],
  "31": ["NE", "Nebraska"],
  "32": ["NV", "Nevada"],
  "33": ["NH", "New Hampshire"],
  "34": ["NJ", "New Jersey"],
  "35": ["NM", "New Mexico"],
  "36": ["NY", "New York"],
  "37": ["NC", "North Carolina"],
  "38": ["ND", "North Dakota"],
  "39": ["OH", "Ohio"],
  "40": ["OK", "Oklahoma"],
  "41": ["OR", "Oregon"],
  "42": ["PA", "Pennsylvania"],
  "44": ["RI", "Rhode Island"],
  "45": ["SC", "South Carolina"],
  "46": ["SD", "South Dakota"],
  "47": ["TN", "Tennessee"],
  "48": ["TX", "Texas"],
  "49": ["UT", "Utah"],
  "50": ["VT", "Vermont"],
  "51": ["VA", "Virginia"],
  "53": ["WA", "Washington"],
  "54": ["WV", "West Virginia"],
  "55": ["WI", "Wisconsin"],
  "56": ["WY", "Wyoming"],
  "72": ["PR", "Puerto Rico"],
};

const r1 = (v) => Math.round(v * 10) / 10 + 0; // +0 turns -0 into 0
const pt = ([x, y]) => [r1(x), r1(y)];

function fail(msg) {
  console.error(`build.mjs: ${msg}`);
  process.exit(1);
}

const atlasDir = join(here, "node_modules", "us-atlas");
const atlasVersion = JSON.parse(readFileSync(join(atlasDir, "package.json"), "utf8")).version;
const topology = JSON.parse(readFileSync(join(atlasDir, "states-10m.json"), "utf8"));
const all = feature(topology, topology.objects.states).features;

const kept = all.filter((f) => FIPS[f.id]);
const dropped = all.filter((f) => !FIPS[f.id]).map((f) => `${f.id} ${f.properties.name}`);
if (kept.length !== 52) fail(`expected 52 jurisdictions, found ${kept.length}`);

const pr = kept.find((f) => f.id === "72");
const main = { type: "FeatureCollection", features: kept.filter((f) => f.id !== "72") };

const albers = geoAlbersUsa().fitExtent([[PAD, PAD], [WIDTH - PAD, HEIGHT - PAD]], main);
const mainPath = geoPath(albers).digits(1);

const prProjection = geoMercator().fitExtent(
  [
    [PR_INSET.x + PR_INSET_PAD, PR_INSET.y + PR_INSET_PAD],
    [PR_INSET.x + PR_INSET.width - PR_INSET_PAD, PR_INSET.y + PR_INSET.height - PR_INSET_PAD],
  ],
  pr,
);
const prPath = geoPath(prProjection).digits(1);

const shapes = {};
for (const f of kept) {
  const [code, name] = FIPS[f.id];
  const path = f.id === "72" ? prPath : mainPath;
  const d = path(f);
  if (!d) fail(`${code}: empty path`);
  shapes[code] = { name, d, label: pt(path.centroid(f)) };
}

// Sanity: the PR inset frame must not overlap any state's bounding box.
for (const f of main.features) {
  const [[x0, y0], [x1, y1]] = mainPath.bounds(f);
  const I = PR_INSET;
  if (x0 < I.x + I.width && x1 > I.x && y0 < I.y + I.height && y1 > I.y) {
    fail(`PR inset overlaps ${FIPS[f.id][0]}`);
  }
}

// DC marker + leader line.
const dc = shapes.DC;
const [dcx, dcy] = mainPath.centroid(kept.find((f) => f.id === "11"));
const cx = dcx + DC_MARKER_OFFSET[0];
const cy = dcy + DC_MARKER_OFFSET[1];
// The marker (plus a 2px margin) must sit in open water, not on any state.
for (let i = 0; i < 32; i++) {
  const a = (i / 32) * 2 * Math.PI;
  for (const rr of [0, DC_MARKER_R + 2]) {
    const lonlat = albers.invert([cx + rr * Math.cos(a), cy + rr * Math.sin(a)]);
    const hit = lonlat && main.features.find((f) => geoContains(f, lonlat));
    if (hit) fail(`DC marker overlaps ${FIPS[hit.id][0]}`);
  }
}
// Leader runs from DC's centroid to the edge of the circle.
const len = Math.hypot(cx - dcx, cy - dcy);
const ex = cx - ((cx - dcx) / len) * DC_MARKER_R;
const ey = cy - ((cy - dcy) / len) * DC_MARKER_R;
dc.marker = { cx: r1(cx), cy: r1(cy), r: DC_MARKER_R };
dc.leader = [pt([dcx, dcy]), pt([ex, ey])];

const codes = Object.keys(shapes).sort();
const out = {
  source:
    `us-atlas ${atlasVersion} states-10m.json (Census Bureau cartographic boundary files, public domain), ` +
    "projected with d3-geo geoAlbersUsa; Puerto Rico inset projected separately; generated by tools/map/build.mjs",
  viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
  insets: [{ code: "PR", ...PR_INSET }],
  shapes: Object.fromEntries(codes.map((c) => [c, shapes[c]])),
};

// Diff-friendly but compact: one shape per line.
const lines = [
  "{",
  `  "source": ${JSON.stringify(out.source)},`,
  `  "viewBox": ${JSON.stringify(out.viewBox)},`,
  `  "insets": ${JSON.stringify(out.insets)},`,
  '  "shapes": {',
  codes.map((c) => `    ${JSON.stringify(c)}: ${JSON.stringify(out.shapes[c])}`).join(",\n"),
  "  }",
  "}",
  "",
];
const text = lines.join("\n");
JSON.parse(text); // must round-trip
writeFileSync(OUT, text);

console.log(`wrote ${OUT}: ${codes.length} shapes, ${text.length} bytes (us-atlas ${atlasVersion})`);
console.log(`dropped: ${dropped.join(", ")}`);
