/*
 * log.h - one line per event on stderr:
 *   2026-11-25T07:30:00.123Z INFO gateway req=ab12.. trace=.. message
 *
 * The request and trace ids are per thread (log_set_context), so a handler
 * sets them once and every line it logs carries them. Never log a password,
 * a token or a whole message body at info level.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Name the service and the least level written ("debug".."error"). */
void log_init(const char *service, const char *level);

/* Set (or clear, with NULLs) this thread's request and trace ids. */
void log_set_context(const char *request_id, const char *trace_id);

/* printf-style; one line, the trailing newline is added. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
