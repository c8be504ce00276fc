/* fake_ids: random identifiers and the wall clock stamped on records. */
#ifndef FAKE_IDS_H
#define FAKE_IDS_H

#include <stdint.h>

#define FAKE_UUID_SIZE    37 /* 36 characters and the NUL */
#define FAKE_NUMERIC_SIZE 20 /* 19 digits and the NUL */
#define FAKE_TIME_SIZE    29 /* 2026-05-12T08:00:00.000+0000 and the NUL */

/* Writes a random version-4 UUID into out. */
void fake_uuid(char out[static FAKE_UUID_SIZE]);
/* Writes a random 19-digit decimal id (an Infobip bulkId look-alike) into out. */
void fake_numeric_id(char out[static FAKE_NUMERIC_SIZE]);
/* Milliseconds since the Unix epoch. */
int64_t fake_now_ms(void);
/* Writes ms (since the Unix epoch) in UTC as Infobip writes times: 2026-05-12T08:00:00.000+0000.
 */
void fake_infobip_time(int64_t ms, char out[static FAKE_TIME_SIZE]);

#endif
