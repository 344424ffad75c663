-- Approval: Human.approve gates a host tool.  The procedure asks before it
-- calls host.echo (allowed by the sidecar policy approval.tac.yml, once
-- trusted: tactus-run trust examples/approval.tac).  Who answers:
--   --approve all / --approve none   answered without asking
--   a terminal                       asked there ([y/N])
--   nobody (no TTY, no --approve)    the run pauses: "waiting", exit 0
-- A paused run with --storage file can be answered later and resumed:
--
--   tactus-run run examples/approval.tac --approve all     # sent = true
--   tactus-run run examples/approval.tac --approve none    # sent = false
--   tactus-run run examples/approval.tac </dev/null        # paused (without a terminal)
--   tactus-run run examples/approval.tac --storage file; tactus-run answer examples/approval.tac yes;
--   tactus-run run examples/approval.tac --storage file    # resumes with the answer
Procedure {
  input = { message = field.string { default = "deploy v1.2 to staging" } },
  function(input)
    local approved = Human.approve({
      message = "Send '" .. input.message .. "' to the host?",
      default = false,
    })
    if not approved then
      Log.warn("not approved: nothing was sent")
      return { sent = false }
    end
    local reply = Host.call("host.echo", { message = input.message })
    return { sent = true, echoed = reply.message }
  end,
}

-- `tactus-run test examples/approval.tac` runs these scenarios; the Given
-- steps answer Human.approve, so no one is asked.
Specification([[
Feature: Approval gate
  Scenario: approved, the message goes to the host
    Given Human.approve will return true
    When the procedure runs
    Then the output sent should be true
    And Human.approve should be called
    And the "host.echo" tool should be called with message="deploy v1.2 to staging"

  Scenario: refused, nothing is sent
    Given Human.approve will return false
    When the procedure runs
    Then the output sent should be false
    And the "host.echo" tool should not be called
    And the log should contain "not approved"
]])
