/* booking: the booking document an integrator posts, parsed and checked.
 *
 *   { "id": "B-1001", "status": "confirmed", "subtype": "class_enrollment",
 *     "start": "2026-12-05T10:00:00+01:00", "end": "2026-12-05T17:00:00+01:00",
 *     "timezone": "Europe/Berlin", "updated_at": "2026-11-25T08:00:00Z",
 *     "name": "SKS Praxis", "location": "Hafen Ueckermünde",
 *     "customer": { "first_name": "Anna", "last_name": "Berg",
 *                   "email": "anna@example.org", "phone": "+491711234567",
 *                   "locale": "de" },
 *     "data": { ... free-form ... } }
 *
 * "updated_at" or "version" (a whole number) order the states of one booking:
 * an older state arriving after a newer one is ignored.
 */
#ifndef TD_BOOKING_H
#define TD_BOOKING_H

#include "util/problems.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct td_booking {
    json_t *doc;          /* the whole document; owned */
    const char *id;       /* borrowed from doc, like every string below */
    const char *status;   /* pending, confirmed, checked_in, completed, cancelled, no_show */
    const char *subtype;  /* NULL when absent */
    const char *timezone; /* NULL: the organization's */
    int64_t start_ms;
    int64_t end_ms;           /* -1 when absent */
    int64_t updated_at_ms;    /* -1 when absent */
    int64_t version;          /* the sender's version number, -1 when absent */
    const char *customer_key; /* customer.id, else the e-mail (as given); NULL */
};

/* Parses and checks a booking document. Returns 0 and fills out (release with
 * td_booking_clear), or -EINVAL with everything that is wrong in err, each
 * naming its field ("start: '2026-13-01' is not an RFC 3339 time"). */
int td_booking_parse(const char *json, size_t len, struct td_booking *out, char *err,
                     size_t errcap);

/* Builds a booking from an already parsed document (takes a reference);
 * err gets every problem, "; "-separated. */
int td_booking_from_json(json_t *doc, struct td_booking *out, char *err, size_t errcap);

/* As td_booking_from_json, adding every problem to p (each naming its
 * field) instead of writing a text. */
int td_booking_read(json_t *doc, struct td_booking *out, struct td_problems *p);

/* Releases the document; the struct can be reused. */
void td_booking_clear(struct td_booking *b);

/* True when status is one the engine knows. */
int td_booking_status_known(const char *status);

#endif
