// The page script's first statement: imported first by both pages' main.js, so
// that it runs before any library module code (W6 measures boot from here).
// performance.now() counts from the navigation start (timeOrigin).
export const scriptStart = performance.now()
