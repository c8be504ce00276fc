/* fake_logs: the SMS message logs behind GET /sms/3/logs, one entry per SMS
 * the fake accepted. */
#ifndef FAKE_LOGS_H
#define FAKE_LOGS_H

#include <jansson.h>
#include <stddef.h>

struct fake_logs;

/* What a logs request asks for; a list with count 0 or a NULL string matches anything. */
struct fake_log_query {
    char *const *message_ids;
    size_t message_id_count;
    char *const *bulk_ids;
    size_t bulk_id_count;
    const char *destination;
    const char *sender;
    size_t limit;
};

/* A new, empty log; NULL when out of memory. */
struct fake_logs *fake_logs_create(void);
/* Frees the log and its entries (NULL is ignored). */
void fake_logs_destroy(struct fake_logs *l);
/* Forgets every entry (POST /_control/reset). */
void fake_logs_reset(struct fake_logs *l);
/* Adds one accepted SMS: entry (taken over) is its LogResponse item; queries filter on its
 * "messageId", "bulkId", "destination" and "sender". */
void fake_logs_add(struct fake_logs *l, json_t *entry);
/* {"results":[entries matching q, newest first, at most q->limit]} as malloc'ed JSON text;
 * NULL when out of memory. */
char *fake_logs_query(struct fake_logs *l, const struct fake_log_query *q, size_t *len);

#endif
