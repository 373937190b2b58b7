// The Chromium flags of the benchmark (bench/run.mjs) and of its diagnostics.
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Headless Chromium loads its omnibox popup (a WebUI page in a renderer of its
  // own) when a page navigates, and it takes CPU for a second or two on a 2-core
  // machine: no part of either library, it only added noise to the first workload.
  '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup',
  // performance.measureUserAgentSpecificMemory() answers at once instead of at the next GC (up to ~20 s)
  '--enable-blink-features=ForceEagerMeasureMemory',
]
