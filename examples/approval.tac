-- Approval: Human.approve gates a host tool.  The procedure asks before it
-- calls host.echo (allowed by the sidecar policy approval.tac.yml).  Who
-- answers:
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
