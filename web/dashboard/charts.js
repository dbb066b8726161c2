// charts: today per minute (trhubd keeps the samples and sends them with the
// snapshot as "series"); each stats message updates the current minute, by
// the same rule as trhubd (the minute's last value wins). uPlot draws on one
// canvas from columnar arrays; setData runs at most once per frame.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

function css(name) {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

// Columnar data [[t s], [waiting], [available], [sl]] from the snapshot's series.
export function seriesColumns(series) {
	const t = [], w = [], a = [], sl = [];
	if (series && Array.isArray(series.minuteMs)) {
		for (let i = 0; i < series.minuteMs.length; i++) {
			t.push(series.minuteMs[i] / 1000);
			w.push(series.waiting ? series.waiting[i] : null);
			a.push(series.availableWorkers ? series.availableWorkers[i] : null);
			sl.push(series.serviceLevel ? series.serviceLevel[i] : null);
		}
	}
	return [t, w, a, sl];
}

export function noteStats(cols, st, nowMs) {
	const minute = Math.floor(nowMs / 60000) * 60;
	const waiting = (st.pendingTasks ?? 0) + (st.reservedTasks ?? 0);
	const avail = st.activityAvailableWorkers ?? null;
	const sl = typeof st.serviceLevel === 'number' ? st.serviceLevel : null;
	const n = cols[0].length;
	if (n && cols[0][n - 1] === minute) {
		cols[1][n - 1] = waiting;
		cols[2][n - 1] = avail;
		cols[3][n - 1] = sl;
	} else {
		cols[0].push(minute);
		cols[1].push(waiting);
		cols[2].push(avail);
		cols[3].push(sl);
		if (cols[0].length > 1440) for (const c of cols) c.shift();
	}
}

// The x axis runs from the first sample (or ten minutes ago) to now (or
// the last sample), from the data itself: uPlot pads a single point by a day.
function dayRange(u) {
	const xs = u.data[0] || [];
	const nowS = Date.now() / 1000;
	const first = xs.length ? xs[0] : nowS;
	const last = xs.length ? xs[xs.length - 1] : nowS;
	return [Math.min(first, nowS - 600), Math.max(nowS, last + 60)];
}

// Charts grow with their box (a wall TV), within sensible bounds.
function chartSize(el) {
	const width = Math.max(240, el.clientWidth);
	return { width, height: Math.round(Math.min(520, Math.max(200, width * 0.42))) };
}

function makeChart(el, title, series, yRange) {
	// Colours are read at draw time, so a theme switch only needs a redraw.
	const fontPx = parseFloat(css('--fs-0')) || 14; // larger on a wall TV
	const axis = {
		stroke: () => css('--muted'),
		grid: { stroke: () => css('--border'), width: 1 },
		ticks: { stroke: () => css('--border') },
		font: `${Math.round(fontPx * 0.8)}px system-ui, sans-serif`,
		size: Math.round(Math.max(50, fontPx * 3.8)),
	};
	return new uPlot({
		title,
		...chartSize(el),
		scales: { x: { time: true, range: dayRange }, y: yRange ? { range: yRange } : { range: (u, min, max) => [0, Math.max(5, Math.ceil((max || 0) * 1.15))] } },
		axes: [axis, axis],
		legend: { show: true },
		series: [{}, ...series],
	}, [[], ...series.map(() => [])], el);
}

export function Charts({ store }) {
	const box1 = useRef(null);
	const box2 = useRef(null);
	useEffect(() => {
		const c1 = makeChart(box1.current, 'Waiting tasks and available agents', [
			{ label: 'Waiting', stroke: () => css('--chart-1'), width: 2 },
			{ label: 'Available agents', stroke: () => css('--chart-2'), width: 2 },
		]);
		const c2 = makeChart(box2.current, 'Service level % (cumulative)', [
			{ label: 'Service level %', stroke: () => css('--chart-3'), width: 2 },
		], [0, 100]);
		let cols = seriesColumns(store.series.peek());
		let dirty = true;
		let raf = 0;
		const draw = () => {
			raf = 0;
			if (!dirty) return;
			dirty = false;
			c1.setData([cols[0], cols[1], cols[2]]);
			c2.setData([cols[0], cols[3]]);
		};
		const mark = () => {
			dirty = true;
			if (!raf) raf = requestAnimationFrame(draw);
		};
		const unsub = store.series.subscribe((s) => {
			if (!s) return; // a trhubd without samples: keep what the stats messages built
			cols = seriesColumns(s);
			mark();
		});
		store.onStats = (st, rx) => {
			noteStats(cols, st, rx);
			mark();
		};
		const ro = new ResizeObserver(() => {
			c1.setSize(chartSize(box1.current));
			c2.setSize(chartSize(box2.current));
		});
		ro.observe(box1.current);
		const redraw = () => {
			c1.redraw(false);
			c2.redraw(false);
		};
		const mo = new MutationObserver(redraw);
		mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme', 'class'] });
		const mq = matchMedia('(prefers-color-scheme: dark)');
		mq.addEventListener('change', redraw);
		draw();
		return () => {
			unsub();
			ro.disconnect();
			mo.disconnect();
			mq.removeEventListener('change', redraw);
			c1.destroy();
			c2.destroy();
		};
	}, []);
	return (
		<section class="card charts" aria-labelledby="charts-h">
			<h2 id="charts-h">Today</h2>
			<div class="pair">
				<div class="chart" ref={box1} role="img" aria-label="Chart: waiting tasks and available agents per minute today" />
				<div class="chart" ref={box2} role="img" aria-label="Chart: service level percentage today" />
			</div>
		</section>
	);
}
