/* state_bootstrap.h — `sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT [--max-parallelism M]
 * [-- SCRIPT-ARGS...]`: writes a savepoint of JOB.lua's state from JSON lines, one keyed entry each, in the
 * format `sluice state dump` prints ({"op", "state", "kind", "key", "value" | "value_b64", ["map_key" |
 * "map_key_b64"], ["index"], ["expires_at"]}), so dump -> bootstrap -> run round-trips.
 *
 * Each line is checked (valid JSON, known fields, an operator of the job, the kind the job stores the state
 * as, a TTL state's expiry, list elements in order, no entry given twice); the first bad one is reported as
 * "FILE:N: reason" with exit status 2, and nothing is written. SAVEPOINT must not exist (not even as an empty
 * directory) and its parent must. Operator lists and timers are not bootstrapped (dump does not show them).
 * Returns the exit status: 0 written, 1 writing failed, 2 bad usage or input. */
#ifndef SLUICE_STATE_BOOTSTRAP_H
#define SLUICE_STATE_BOOTSTRAP_H

int sl_state_bootstrap_command(int argc, char **argv);

#endif
