package chat

import "html/template"

// The demo shop's product pictures: inline SVG drawn with presentation
// attributes only, so they render the same in every browser and font setup
// (no emoji font), make no request and need no inline style under a CSP.
const (
	pictureSweater template.HTML = `<svg viewBox="0 0 120 120" width="120" height="120" aria-hidden="true" focusable="false">` +
		`<path d="M42 22 L60 30 L78 22 L104 38 L96 62 L86 58 L86 100 L34 100 L34 58 L24 62 L16 38 Z" fill="#c2410c"/>` +
		`<path d="M42 22 Q60 38 78 22" fill="none" stroke="#7c2d12" stroke-width="5"/>` +
		`<path d="M36 70 l8 -8 l8 8 l8 -8 l8 8 l8 -8 l8 8" fill="none" stroke="#fde68a" stroke-width="4" stroke-linejoin="round"/>` +
		`<path d="M34 92 H86" stroke="#7c2d12" stroke-width="6"/>` +
		`<path d="M40 92 v8 M48 92 v8 M56 92 v8 M64 92 v8 M72 92 v8 M80 92 v8" stroke="#9a3412" stroke-width="2"/>` +
		`</svg>`
	pictureJacket template.HTML = `<svg viewBox="0 0 120 120" width="120" height="120" aria-hidden="true" focusable="false">` +
		`<path d="M22 34 L8 92 L20 96 L30 52 Z M98 34 L112 92 L100 96 L90 52 Z" fill="#1e40af"/>` +
		`<path d="M44 18 Q60 8 76 18 L100 34 L96 104 L24 104 L20 34 Z" fill="#1d4ed8"/>` +
		`<path d="M44 18 Q60 34 76 18" fill="#1e3a8a"/>` +
		`<path d="M24 48 H96 M23 64 H97 M22 80 H98 M22 96 H98" stroke="#93c5fd" stroke-width="2.5"/>` +
		`<path d="M60 26 V104" stroke="#e5e7eb" stroke-width="3"/>` +
		`<rect x="56" y="40" width="8" height="10" rx="2" fill="#e5e7eb"/>` +
		`</svg>`
	pictureThermos template.HTML = `<svg viewBox="0 0 120 120" width="120" height="120" aria-hidden="true" focusable="false">` +
		`<path d="M52 8 q-6 7 0 14 M64 6 q-6 8 0 16" fill="none" stroke="#94a3b8" stroke-width="3" stroke-linecap="round"/>` +
		`<rect x="42" y="26" width="36" height="16" rx="4" fill="#14532d"/>` +
		`<rect x="38" y="40" width="44" height="70" rx="10" fill="#15803d"/>` +
		`<rect x="38" y="58" width="44" height="8" fill="#bbf7d0"/>` +
		`<rect x="46" y="74" width="6" height="28" rx="3" fill="#4ade80"/>` +
		`</svg>`
	pictureHeadlamp template.HTML = `<svg viewBox="0 0 120 120" width="120" height="120" aria-hidden="true" focusable="false">` +
		`<path d="M70 48 L116 30 L116 82 L70 68 Z" fill="#fde68a"/>` +
		`<ellipse cx="44" cy="60" rx="34" ry="22" fill="none" stroke="#7e22ce" stroke-width="8"/>` +
		`<rect x="54" y="44" width="22" height="32" rx="6" fill="#581c87"/>` +
		`<circle cx="70" cy="60" r="9" fill="#fef9c3" stroke="#eab308" stroke-width="3"/>` +
		`</svg>`
)
