// CPU profiles of a page and of the dedicated workers it starts, through CDP
// (Profiler domain; workers by auto-attach). Shared by the diagnostics
// sync/profile-rs.mjs and boot-timeline.mjs.

/**
 * Starts Chromium's sampling profiler on a page and on each dedicated worker
 * it starts. `pauseWorkers`: a new worker waits until its profiler runs (so
 * its start is profiled too). Resolves to stop(), which resolves to
 * `{ page, worker }` (.cpuprofile objects; worker: the last one attached).
 */
export async function profileCpu(page, { pauseWorkers = false } = {}) {
  const cdp = await page.context().newCDPSession(page)
  const workers = new Map() // sessionId → pending replies
  let nextId = 1
  const toWorker = (sessionId, method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++
      workers.get(sessionId).set(id, resolve)
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
    })
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
    const m = JSON.parse(message)
    workers.get(sessionId)?.get(m.id)?.(m.result)
  })
  cdp.on('Target.attachedToTarget', async ({ sessionId, targetInfo }) => {
    if (targetInfo.type !== 'worker') return
    workers.set(sessionId, new Map())
    await toWorker(sessionId, 'Profiler.enable')
    await toWorker(sessionId, 'Profiler.setSamplingInterval', { interval: 100 })
    await toWorker(sessionId, 'Profiler.start')
    if (pauseWorkers) await toWorker(sessionId, 'Runtime.runIfWaitingForDebugger')
  })
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: pauseWorkers, flatten: false })
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  await cdp.send('Profiler.start')
  return async () => {
    const out = { page: (await cdp.send('Profiler.stop')).profile }
    for (const id of workers.keys()) {
      const r = await toWorker(id, 'Profiler.stop')
      if (r?.profile) out.worker = r.profile
    }
    return out
  }
}

/** Prints the functions with the most self time in a .cpuprofile; `skipIdle` leaves out the idle samples. */
export function topSelf(profile, { n = 25, skipIdle = false } = {}) {
  const dt = new Map()
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const byName = new Map()
  let total = 0
  for (const node of profile.nodes) {
    const f = node.callFrame
    if (skipIdle && f.functionName === '(idle)') continue
    const us = dt.get(node.id) ?? 0
    total += us
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}`
    byName.set(name, (byName.get(name) ?? 0) + us)
  }
  console.log(`    total ${(total / 1000).toFixed(0)} ms sampled${skipIdle ? ' (not idle)' : ''}`)
  for (const [name, us] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`    ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)
  }
}
