/* outbox_redis_script.h - the Redis store's Lua script: every change to
 * the shared outbox is one atomic call of it (EVALSHA), so that replicas
 * never see half a message, and two puts with one Idempotency-Key are
 * ordered by Redis.
 *
 * Keys (all in one Redis Cluster hash slot, <p> = <redis_key_prefix>{<region>}:outbox:):
 *   <p>stream     the stream: one entry per unfinished message, fields
 *                 id (the OutboxId) and r (the request record); consumer
 *                 group "ses-proxy"; an entry is deleted (XDEL) when its
 *                 message is finished, which purges the body
 *   <p>m:<id>     hash: st (the status record), sid (the stream entry), b
 *                 (the record's size, while unfinished), s (the state
 *                 counted in <p>n), k (the idempotency key's name); expires
 *                 outbox.retention_s after the message is finished
 *   <p>k:<key>    "<sha256 hex of operation and body> <id>": the
 *                 Idempotency-Key; expires with the message's status
 *   <p>n          hash: count and bytes of unfinished messages (the
 *                 bounds), queued and sending (the metrics)
 *   <p>f:sent, <p>f:failed   sorted sets of finished ids by finishing time
 *                 (the metrics; trimmed to the retention)
 *   <p>q          hash: the daily quota (outbox_quota.h's count, in Redis:
 *                 total, oldest minute, m:<minute> per minute, and the
 *                 last GetSendQuota answer of any replica)
 * ARGV[1] is the command, ARGV[2] the prefix <p>; redis_store.c says what
 * each command takes. Redis's TIME is the quota's clock. */
#ifndef SP_OUTBOX_REDIS_SCRIPT_H
#define SP_OUTBOX_REDIS_SCRIPT_H

extern const char outbox_redis_script[];

#endif
