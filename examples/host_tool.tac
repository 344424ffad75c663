-- Host tools: Host.call(name, args) asks the broker (outside the sandbox)
-- to run an allowlisted host tool.  Deny by default: the sidecar policy
-- host_tool.tac.yml grants host.ping only, so host.time is refused with
-- ToolNotAllowed.  A host tool can also be a Tool handle: Tool { use = "host.ping" }.
-- A sidecar that grants is honoured once you trust it (after reading it):
--   tactus-run trust examples/host_tool.tac
ping = Tool { use = "host.ping", description = "ping the host" }

Procedure {
  function(input)
    local direct = Host.call("host.ping", { from = "host_tool.tac" })
    local via_handle = ping({ n = 2 })
    local ok, err = pcall(Host.call, "host.time", {})
    return {
      pong = direct.pong,
      args_echoed = direct.args,
      via_handle = via_handle.pong,
      ping_called = ping.called(),
      denied = not ok,
      denied_type = not ok and err.type or nil,
      denied_message = not ok and err.message or nil,
    }
  end,
}

-- `tactus-run test examples/host_tool.tac`: the Given step answers
-- host.ping, with or without --mock.
Specification([[
Feature: Host tools
  Scenario: host.ping, directly and through a Tool handle
    Given the tool "host.ping" returns {"pong": true, "args": {"from": "test"}}
    When the procedure runs
    Then the output pong should be true
    And the output via_handle should be true
    And the output ping_called should be true
    And the ping tool should be called exactly 1 time
    And the "host.ping" tool should be called exactly 2 times
    And the "host.ping" tool should be called with from="host_tool.tac"
]])
