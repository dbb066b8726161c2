// ring: a short two-tone ring made with Web Audio (no sound file to fetch).

let ctx = null;

export function ring() {
	try {
		ctx = ctx || new AudioContext();
		const t0 = ctx.currentTime;
		for (let i = 0; i < 3; i++) {
			for (const [f, d] of [[880, 0], [660, 0.18]]) {
				const o = ctx.createOscillator();
				const g = ctx.createGain();
				o.frequency.value = f;
				g.gain.setValueAtTime(0.0001, t0 + i * 0.8 + d);
				g.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.8 + d + 0.02);
				g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.8 + d + 0.16);
				o.connect(g).connect(ctx.destination);
				o.start(t0 + i * 0.8 + d);
				o.stop(t0 + i * 0.8 + d + 0.17);
			}
		}
	} catch {
		// no audio device: the notification and the page still show it
	}
}
