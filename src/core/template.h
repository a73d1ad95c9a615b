/* core/template.h: `tomo config render`: ${VAR} expansion of a config template.
 * Owns: nothing beyond the rendered string it returns.
 * Threads: any (pure function over its inputs).
 *
 * Syntax: ${NAME} is the value of NAME; ${NAME:-word} is word when NAME is
 * unset or empty; $$ is a literal $. NAME is [A-Za-z_][A-Za-z0-9_]*. Any
 * other $ is copied as is. A ${NAME} whose variable is unset (and has no
 * default) is refused, naming the variable and the line. */
#ifndef TOMO_CORE_TEMPLATE_H
#define TOMO_CORE_TEMPLATE_H

#include <stddef.h>

/* Expand in[0..n) with variables from envp (NULL-terminated "K=V" list).
 * On success *out is a NUL-terminated heap string (free()) and *outlen its
 * length. On failure returns TOMO_EINVAL, *out is NULL and err names the
 * problem (unset variable, unterminated or malformed ${...}) with its line. */
int tomo_template_render(const char *in, size_t n, char *const *envp, char **out, size_t *outlen,
                         char *err, size_t errlen);

#endif
