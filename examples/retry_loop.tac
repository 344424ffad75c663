-- Loops and retries: Iterations counts loop turns (current / increment /
-- exceeded), Stop is a stop request with a reason, and Retry.with_backoff
-- runs a function again when it fails (max_attempts, initial_delay,
-- backoff_factor), logging each failed attempt.
Procedure {
  input = {
    target = field.integer { default = 20 },
    max_iterations = field.integer { default = 10 },
  },
  function(input)
    local total = 0
    while not Stop.requested() do
      Iterations.increment()
      total = total + Iterations.current()
      if total >= input.target then
        Stop.request("reached " .. total, true)
      elseif Iterations.exceeded(input.max_iterations) then
        Stop.request("too many iterations", false)
      end
    end

    -- A flaky step: fails twice, then succeeds on the third attempt.
    local flaky = Retry.with_backoff(function(attempt)
      if attempt < 3 then error("flaky failure #" .. attempt) end
      return "succeeded on attempt " .. attempt
    end, { max_attempts = 5, initial_delay = 0.01, backoff_factor = 2 })

    -- One that never succeeds: the last error comes back.
    local ok, err = pcall(Retry.with_backoff, function() error("always down", 0) end,
      { max_attempts = 2, initial_delay = 0.01 })

    return {
      total = total,
      iterations = Iterations.current(),
      stop_reason = Stop.reason(),
      stop_success = Stop.success(),
      flaky = flaky,
      gave_up = not ok,
      last_error = err,
    }
  end,
}

-- `tactus-run test examples/retry_loop.tac`
Specification([[
Feature: Loops, stops and retries
  Scenario: reaches the target
    When the procedure runs
    Then the output total should be 21
    And the total iterations should be 6
    And the stop reason should be "reached 21"
    And the output flaky should be "succeeded on attempt 3"
    And the output gave_up should be true
    And the output last_error should contain "always down"
    And the log should contain "flaky failure #2"

  Scenario: gives up after too many iterations
    Given the input target is 1000
    And the input max_iterations is 4
    When the procedure runs
    Then the total iterations should be less than 5
    And the stop reason should be "too many iterations"
    And the output stop_success should be false
]])
