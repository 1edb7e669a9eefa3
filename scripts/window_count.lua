-- window_count.lua — requests per URL per tumbling minute of event time, over nginx JSON access logs.
--
--   in:  {"@timestamp": "18/Apr/2019:00:00:00", "url": "/api/a", ...}
--   out: {"url": "/api/a", "window_start": "18/Apr/2019:00:00:00", "count": 3}
-- A window's count is emitted once, when it closes: when the watermark (the newest @timestamp seen minus
-- OUT_OF_ORDER_MS) passes the window's end, or at the end of the input. Records up to OUT_OF_ORDER_MS out of
-- order still count; later ones for a closed window are dropped (and counted as late in the log).
-- The open windows (MapState) and their event-time timers are state: a job stopped with SIGTERM or killed
-- and restarted with the same --state-dir emits every window exactly once with its complete count.
--
--   sluice run scripts/window_count.lua --input access.log [-- OUT_OF_ORDER_MS]   (default 5000)
local sluice = require "sluice"

local ooo = tonumber(sluice.args[1] or "5000")

return sluice.job "window-count"
  :source(sluice.source.input { watermark = { field = "@timestamp", format = "nginx", out_of_orderness_ms = ooo } })
  :key_by "url"
  :window("per-minute", sluice.window.tumbling { size_ms = 60000, time = "event" }, {
    emit = function(ctx, w, count)
      ctx:emit({ url = ctx:key(), window_start = sluice.time.format(w.start, "nginx"), count = count },
        { "url", "window_start", "count" })
    end,
  })
