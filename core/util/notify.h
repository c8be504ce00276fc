/* notify: tells the service manager how the engine is doing, by the
 * sd_notify protocol (a datagram to $NOTIFY_SOCKET: "READY=1", "RELOADING=1",
 * "STOPPING=1", "STATUS=..."), so a systemd unit with Type=notify knows when
 * the engine serves. Written here because the protocol is one sendto() and
 * libsystemd is not among the engine's libraries. Without NOTIFY_SOCKET it
 * does nothing. */
#ifndef TD_NOTIFY_H
#define TD_NOTIFY_H

/* Sends state (newline-separated assignments) to the service manager.
 * Returns 0 when sent or not asked for, -errno when sending failed. */
int td_notify(const char *state);

#endif
