// tests/integration/amatch_util.mjs: the Lua modules and helpers the
// authoritative-match acceptance files share (a match module "arena" and
// RPCs around nk.match_*), written into a temporary runtime.path.
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, writeFileSync } from 'node:fs';

export const ARENA = `
local nk = require("nakama")
local M = {}
function M.match_init(ctx, params)
  params = params or {}
  local state = { joins = 0, ctx_mode = ctx.execution_mode }
  return state, params.rate or 10, params.label or ""
end
function M.match_join_attempt(ctx, d, tick, state, presence, metadata)
  if metadata.password and metadata.password ~= "secret" then
    return state, false, "wrong password"
  end
  if metadata.silent == "1" then return state, false end
  if metadata.stop == "1" then return nil, false end
  return state, true
end
function M.match_join(ctx, d, tick, state, presences)
  state.joins = state.joins + #presences
  for _, p in ipairs(presences) do
    d.broadcast_message(100, nk.json_encode({ user_id = p.user_id, node = p.node, reason = p.reason,
      match_id = ctx.match_id, label = ctx.match_label, rate = ctx.match_tick_rate,
      mode = ctx.execution_mode }), { p })
  end
  return state
end
function M.match_leave(ctx, d, tick, state, presences)
  for _, p in ipairs(presences) do d.broadcast_message(101, p.user_id) end
  return state
end
function M.match_loop(ctx, d, tick, state, messages)
  for _, m in ipairs(messages) do
    local op = m.op_code
    if op == 1 then d.broadcast_message(2, m.data, { m.sender }, m.sender)
    elseif op == 3 then d.broadcast_message(4, m.data, nil, m.sender)
    elseif op == 5 then d.match_label_update(m.data); d.broadcast_message(6, "ok")
    elseif op == 7 then d.match_kick({ m.sender })
    elseif op == 9 then error("boom from the match")
    elseif op == 11 then return nil
    elseif op == 13 then d.broadcast_message_deferred(14, m.data); d.broadcast_message(15, "now")
    elseif op == 17 then d.broadcast_message(18, m.data, {})
    end
  end
  return state
end
function M.match_terminate(ctx, d, tick, state, grace)
  d.broadcast_message(99, tostring(grace))
  return state
end
function M.match_signal(ctx, d, tick, state, data)
  if data == "stop" then return nil, "bye" end
  if data == "fail" then error("signal failed") end
  if data == "nil" then return state, nil end
  return state, "got:" .. data .. ":" .. state.joins
end
return M
`;

export const RPCS = `
local nk = require("nakama")
local function decode(p) if p == nil or p == "" then return {} end return nk.json_decode(p) end
nk.register_rpc(function(ctx, payload)
  local p = decode(payload)
  local ok, id = pcall(nk.match_create, p.module or "arena", p.params)
  if not ok then return nk.json_encode({ error = id }) end
  return nk.json_encode({ match_id = id })
end, "create_match")
nk.register_rpc(function(ctx, payload)
  local p = decode(payload)
  local ok, r = pcall(nk.match_signal, p.id, p.data)
  if not ok then return nk.json_encode({ error = r }) end
  return nk.json_encode({ result = r })
end, "signal_match")
nk.register_rpc(function(ctx, payload)
  local p = decode(payload)
  local ok, m = pcall(nk.match_get, p.id)
  if not ok then return nk.json_encode({ error = m }) end
  return nk.json_encode({ match = m, found = m ~= nil })
end, "get_match")
nk.register_rpc(function(ctx, payload)
  local p = decode(payload)
  local ok, l = pcall(nk.match_list, p.limit, p.authoritative, p.label, p.min_size, p.max_size, p.query)
  if not ok then return nk.json_encode({ error = l }) end
  local ids = {}
  for i, m in ipairs(l) do ids[i] = m.match_id end
  return nk.json_encode({ n = #l, ids = ids, first = l[1] })
end, "list_matches")
`;

export function writeModules(extra = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-am-'));
  const files = { 'arena.lua': ARENA, 'rpcs.lua': RPCS, ...extra };
  for (const [f, src] of Object.entries(files)) writeFileSync(path.join(dir, f), src);
  return dir;
}

export async function createMatch(u, params, module = 'arena') {
  const r = await u.client.rpc(u.session, 'create_match', { module, params });
  return r.payload;
}

