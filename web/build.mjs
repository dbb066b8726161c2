// Bundles trhub's pages for trhubd to serve (STYLE-web.md).
//
//   node build.mjs OUTDIR
//
// For each page (dashboard, worker, login) esbuild bundles main.js and its
// CSS (theme.css + the page's own + uPlot's where used) into
// OUTDIR/assets/<page>-<hash>.js|.css; the page's index.html is copied to
// OUTDIR/<page>.html with the hashed names filled in. Every file gets a
// gzip -9 twin (.gz) made here, so trhubd never compresses at run time.
// OUTDIR/manifest.json lists every file trhubd may serve: trhubd loads that
// list at start and serves nothing else.
//
// Everything comes from node_modules (npm ci against package-lock.json);
// nothing is fetched.

import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, 'dist'));
const pages = ['dashboard', 'worker', 'login'];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
	absWorkingDir: here,
	entryPoints: Object.fromEntries(pages.map((p) => [p, join(here, p, 'main.js')])),
	bundle: true,
	format: 'esm',
	target: ['chrome100', 'firefox100', 'safari15'],
	minify: true,
	sourcemap: false,
	legalComments: 'none',
	jsx: 'automatic',
	jsxImportSource: 'preact',
	loader: { '.js': 'jsx' },
	splitting: true,
	outdir: join(out, 'assets'),
	entryNames: '[name]-[hash]',
	chunkNames: 'shared-[hash]',
	assetNames: '[name]-[hash]',
	metafile: true,
	write: true,
	logLevel: 'warning',
});

// Classic scripts a page runs first, at the top of <head> (dashboard/boot.js
// opens the stream before the modules load): no imports, no modules.
const bootPages = ['dashboard'];
const boot = await esbuild.build({
	absWorkingDir: here,
	entryPoints: Object.fromEntries(bootPages.map((p) => [p + '-boot', join(here, p, 'boot.js')])),
	bundle: true,
	format: 'iife',
	target: ['chrome100', 'firefox100', 'safari15'],
	minify: true,
	sourcemap: false,
	legalComments: 'none',
	outdir: join(out, 'assets'),
	entryNames: '[name]-[hash]',
	metafile: true,
	write: true,
	logLevel: 'warning',
});
const boots = {};
for (const [file, info] of Object.entries(boot.metafile.outputs)) {
	if (info.entryPoint) boots[info.entryPoint.split('/')[0]] = file.slice(file.indexOf('assets/'));
}

// entry name -> { js, css } (paths relative to out)
const entries = {};
for (const [file, info] of Object.entries(result.metafile.outputs)) {
	if (!info.entryPoint || !/^[a-z]+\/main\.js$/.test(info.entryPoint)) continue; // not a chunk imported later
	const page = info.entryPoint.split('/')[0];
	const rel = file.startsWith('/') ? file.slice(out.length + 1) : file.slice(file.indexOf('assets/'));
	entries[page] = {
		js: rel,
		css: info.cssBundle ? info.cssBundle.slice(info.cssBundle.indexOf('assets/')) : null,
		imports: info.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path.slice(i.path.indexOf('assets/'))),
		// chunks the page imports later (dashboard/later.js) and their CSS
		lazy: [],
		lazyCss: [],
	};
	for (const imp of info.imports.filter((i) => i.kind === 'dynamic-import')) {
		entries[page].lazy.push(imp.path.slice(imp.path.indexOf('assets/')));
		const c = result.metafile.outputs[imp.path].cssBundle;
		if (c) entries[page].lazyCss.push(c.slice(c.indexOf('assets/')));
	}
}

for (const p of pages) {
	const e = entries[p];
	if (!e) throw new Error(`build: no bundle for ${p}`);
	let html = readFileSync(join(here, p, 'index.html'), 'utf8');
	// A chunk imported later has its CSS in a file of its own, which the page
	// links at once (esbuild does not load it with the chunk).
	const css = [e.css, ...e.lazyCss].filter(Boolean).map((f) => `<link rel="stylesheet" href="/${f}">`).join('\n');
	// The chunks the entry imports are announced at once (no extra round trip).
	const preload = e.imports.map((f) => `<link rel="modulepreload" href="/${f}">`).join('\n');
	// The login page fetches the other pages' files while the person types
	// (immutable, so the page they go to next starts from the cache).
	const next = p !== 'login' ? [] : pages.filter((q) => q !== p && entries[q]).flatMap((q) => [boots[q], entries[q].css, ...entries[q].lazyCss, entries[q].js, ...entries[q].imports, ...entries[q].lazy]);
	const prefetch = [...new Set(next.filter((f) => f && !e.imports.includes(f)))].map((f) => `\n<link rel="prefetch" href="/${f}">`).join('');
	const first = boots[p] ? `<script src="/${boots[p]}"></script>\n` : '';
	html = html.replace('<!--assets-->', `${first}${css}\n${preload}\n<script type="module" src="/${e.js}"></script>${prefetch}`);
	if (html.includes('<!--assets-->') || !html.includes(e.js)) throw new Error(`build: ${p}/index.html lacks <!--assets-->`);
	writeFileSync(join(out, `${p}.html`), html);
}
copyStatic('favicon.svg');

function copyStatic(name) {
	writeFileSync(join(out, name), readFileSync(join(here, name)));
}

// Every file, with its gzip twin and its hash (trhubd's ETag).
const files = [];
function walk(dir) {
	for (const ent of readdirSync(dir, { withFileTypes: true })) {
		const full = join(dir, ent.name);
		if (ent.isDirectory()) walk(full);
		else if (!ent.name.endsWith('.gz')) files.push(full.slice(out.length + 1));
	}
}
walk(out);
files.sort();
const manifest = { files: [] };
let firstLoad = 0;
for (const rel of files) {
	const data = readFileSync(join(out, rel));
	const gz = gzipSync(data, { level: zc.Z_BEST_COMPRESSION });
	writeFileSync(join(out, rel + '.gz'), gz);
	const sha = createHash('sha256').update(data).digest('hex').slice(0, 20);
	manifest.files.push({ path: rel, bytes: data.length, gzipBytes: gz.length, sha256: sha, immutable: rel.startsWith('assets/') });
}
// First load of the dashboard: its JS (boot.js, the entry, the chunks it
// imports at once and later) and CSS, gzipped.
const dash = result.metafile.outputs;
const seen = new Set();
function addJs(file) {
	if (seen.has(file)) return;
	seen.add(file);
	if (dash[file].cssBundle) seen.add(dash[file].cssBundle);
	for (const imp of dash[file].imports) if (imp.kind === 'import-statement' || imp.kind === 'dynamic-import') addJs(imp.path);
}
for (const [file, info] of Object.entries(dash)) if (info.entryPoint === 'dashboard/main.js') { addJs(file); if (info.cssBundle) seen.add(info.cssBundle); }
for (const f of Object.values(boots)) if (f.startsWith('assets/dashboard-')) seen.add(f);
for (const f of seen) {
	const rel = f.slice(f.indexOf('assets/'));
	firstLoad += manifest.files.find((m) => m.path === rel).gzipBytes;
}
manifest.dashboardFirstLoadGzipBytes = firstLoad;
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
console.log(`web: ${manifest.files.length} files in ${out}; dashboard first load ${(firstLoad / 1024).toFixed(1)} KiB gzipped`);
