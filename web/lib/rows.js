// rows: pieces for live tables and lists whose rows change a few at a time.
//
// pure(fn): a component that renders again only when one of its props is
// a different value (===). The store replaces a record only when a stream
// item changed it, so a table's unchanged rows are skipped, not diffed.
//
// Age: a ticking clock (m:ss since a server age was received). It reads
// `now` itself, so the one-second tick re-renders these small components
// and never the row or the table around them.

import { Component } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { clock } from './format.js';
import { ageAt, now } from './store.js';

export function pure(fn) {
	class Pure extends Component {
		shouldComponentUpdate(next) {
			for (const k in next) if (next[k] !== this.props[k]) return true;
			for (const k in this.props) if (!(k in next)) return true;
			return false;
		}
		render(props) {
			return fn(props);
		}
	}
	Pure.displayName = fn.name;
	return Pure;
}

export function Age({ ageS, rxMs }) {
	return clock(ageAt(ageS, rxMs, now.value));
}

// useRowWindow(count): the rows of a long table that are in the DOM, for a
// table inside a scrolling box (.scroll). Only the rows in view, and
// OVERSCAN more on each side, are rendered; a spacer row above and below
// keeps the scroll height, so the scroll bar, the keyboard (the box is
// focusable: arrows, Page Up/Down, Home/End) and the wheel behave as if
// every row were there. The table says how many rows it has
// (aria-rowcount) and every row its place (aria-rowindex), so a screen
// reader reads "row 40 of 120". Filtering and sorting apply to the whole
// list before the window is taken. The row height is measured from a
// rendered row (it differs on the wallboard).
//
// Returns { ref (for the scrolling box), first, last (the slice to render),
// top, bottom (spacer heights in px) }.
const OVERSCAN = 5;

export function useRowWindow(count) {
	const ref = useRef(null);
	const view = useRef({ top: 0, height: 0, rowH: 0 });
	const [, setTick] = useState(0);
	useEffect(() => {
		const el = ref.current;
		if (!el) return undefined;
		let raf = 0;
		const measure = () => {
			raf = 0;
			const v = view.current;
			const row = el.querySelector('tbody tr[aria-rowindex]');
			const rowH = row ? row.getBoundingClientRect().height : v.rowH;
			if (v.top !== el.scrollTop || v.height !== el.clientHeight || (rowH && Math.abs(v.rowH - rowH) > 0.5)) {
				v.top = el.scrollTop;
				v.height = el.clientHeight;
				if (rowH) v.rowH = rowH;
				setTick((t) => t + 1);
			}
		};
		const later = () => {
			if (!raf) raf = requestAnimationFrame(measure);
		};
		el.addEventListener('scroll', later, { passive: true });
		const ro = new ResizeObserver(later);
		ro.observe(el);
		later();
		return () => {
			el.removeEventListener('scroll', later);
			ro.disconnect();
			cancelAnimationFrame(raf);
		};
	}, []);
	const v = view.current;
	// Before the first measurement: a screenful at a small row height.
	const rowH = v.rowH || 24;
	const height = v.height || 480;
	const first = Math.max(0, Math.min(count, Math.floor(v.top / rowH) - OVERSCAN));
	const last = Math.min(count, Math.ceil((v.top + height) / rowH) + OVERSCAN);
	return { ref, first, last, top: first * rowH, bottom: (count - last) * rowH };
}

// The spacer row standing for the rows not rendered above or below.
export function Spacer({ px, cols }) {
	if (px <= 0) return null;
	return (
		<tr class="spacer" aria-hidden="true">
			<td colSpan={cols} style={{ height: px + 'px' }} />
		</tr>
	);
}
