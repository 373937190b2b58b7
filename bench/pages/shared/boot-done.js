// What a W6 boot page logs once window.__bootResult is set. The runner waits
// for this console line rather than polling the page: a poll would run the
// runner's own script on the page's thread while the store boots.
export const BOOT_DONE = 'bench: boot done'
