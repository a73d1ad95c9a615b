-- bench/modules/bench_match.lua: the authoritative match of the `amatch`
-- benchmark (bench/amatch_run.sh): 10 ticks a second; every tick it sends
-- each message of the batch to every member, with the sender as presence.
-- It ends when its last player leaves. The socket RPC bench_match_create
-- makes one and answers {"match_id"}.
local nk = require("nakama")

local M = {}

function M.match_init(ctx, params)
  return { n = 0 }, 10, "{\"bench\":true}"
end

function M.match_join_attempt(ctx, dispatcher, tick, state, presence, metadata)
  return state, true
end

function M.match_join(ctx, dispatcher, tick, state, presences)
  state.n = state.n + #presences
  return state
end

function M.match_leave(ctx, dispatcher, tick, state, presences)
  state.n = state.n - #presences
  if state.n <= 0 then return nil end
  return state
end

function M.match_loop(ctx, dispatcher, tick, state, messages)
  for i = 1, #messages do
    local m = messages[i]
    dispatcher.broadcast_message(m.op_code, m.data, nil, m.sender)
  end
  return state
end

function M.match_terminate(ctx, dispatcher, tick, state, grace_seconds)
  return state
end

function M.match_signal(ctx, dispatcher, tick, state, data)
  return state, data
end

nk.register_rpc(function(context, payload)
  return nk.json_encode({ match_id = nk.match_create("bench_match", {}) })
end, "bench_match_create")

return M
