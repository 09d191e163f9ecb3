/* Log lines to stderr: "<ISO time> <level> <message>". One global level. */
#ifndef SIO_UTIL_LOG_H
#define SIO_UTIL_LOG_H

enum { SIO__LOG_ERROR = 0, SIO__LOG_WARN = 1, SIO__LOG_INFO = 2, SIO__LOG_DEBUG = 3 };

extern int sio__log_level;

void sio__log_init(void);
void sio__log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sio__log(level, ...)                                       \
  do {                                                             \
    if ((level) <= sio__log_level) sio__log_write((level), __VA_ARGS__); \
  } while (0)
#define SIO_LOGE(...) sio__log(SIO__LOG_ERROR, __VA_ARGS__)
#define SIO_LOGW(...) sio__log(SIO__LOG_WARN, __VA_ARGS__)
#define SIO_LOGI(...) sio__log(SIO__LOG_INFO, __VA_ARGS__)
#define SIO_LOGD(...) sio__log(SIO__LOG_DEBUG, __VA_ARGS__)

#endif
