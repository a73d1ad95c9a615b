/* console/ui.h: the web UI's files, embedded in the binary at build time
 * (cmake/embed.cmake turns src/console/ui/ into a C array; no Node step).
 * Threads: read-only data. */
#ifndef TOMO_CONSOLE_UI_H
#define TOMO_CONSOLE_UI_H

#include <stddef.h>

typedef struct tomo_console_asset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} tomo_console_asset;

extern const tomo_console_asset tomo_console_assets[];
extern const size_t tomo_console_nassets;

#endif
