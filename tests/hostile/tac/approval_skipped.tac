-- attack: call a host tool whose policy requires a human's approval, with
-- no --approve and no terminal to ask on (the sidecar approval_skipped.tac.yml
-- sets policy.tools.host.echo.approval: required).
-- contained: denied (ApprovalRequired), exit 1; the tool never runs.
-- expect: exit=1 error="ApprovalRequired"
-- forbid: "ECHOED"
return Host.call("host.echo", { payload = "ECHOED" })
