-- bench/modules/echo.lua: the echo RPC used by `bench/run.sh rpc`
-- (tomo-bench http --path '/v2/rpc/echo?http_key=...' --body '"..."').
local nk = require("nakama")

local function echo(context, payload)
  return payload
end

nk.register_rpc(echo, "echo")
