/* runtime/plugin.c: the C plugin host: loading *.so files from
 * runtime.path (include/tomo/plugin.h is their contract), the ABI check,
 * registrations into the runtime's plugin registry, and the calls into a
 * plugin's RPCs and hooks with Nakama's error mapping. Loading runs on the
 * main thread at start-up; calls run on the worker that serves them. */
#define _GNU_SOURCE
#include "plugin_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../rt/match_handler.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLOG "plugin"

/* ---- the host table: declaration, memory, log, registration, ctx ---- */

static int h_declare(tomo_plugin *self, uint32_t major, uint32_t minor, const char *name)
{
    if (!self || !self->initializing)
        return TOMO_CODE_FAILED_PRECONDITION;
    self->declared = 1;
    self->major = major;
    self->minor = minor;
    if (name && *name) {
        free(self->name);
        self->name = tomo_xstrdup(name);
    }
    if (major != TOMO_PLUGIN_ABI_MAJOR || minor > TOMO_PLUGIN_ABI_MINOR) {
        self->refused = 1;
        return TOMO_CODE_FAILED_PRECONDITION;
    }
    return 0;
}

static void *h_alloc(size_t n) { return tomo_xmalloc(n ? n : 1); }
static void h_free(void *p) { free(p); }

static void h_log(tomo_plugin *self, int level, const char *msg)
{
    const char *name = self && self->name ? self->name : "?";
    msg = msg ? msg : "";
    switch (level) {
    case TOMO_PLUGIN_LOG_DEBUG: TOMO_LOGD(PLOG, "%s plugin=%s", msg, name); break;
    case TOMO_PLUGIN_LOG_INFO: TOMO_LOGI(PLOG, "%s plugin=%s", msg, name); break;
    case TOMO_PLUGIN_LOG_WARN: TOMO_LOGW(PLOG, "%s plugin=%s", msg, name); break;
    default: TOMO_LOGE(PLOG, "%s plugin=%s", msg, name); break;
    }
}

/* Record the first failure of init's registrations (start-up names it). */
static int reg_fail(tomo_plugin *self, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reg_fail(tomo_plugin *self, int code, const char *fmt, ...)
{
    if (!self->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(self->err, sizeof(self->err), fmt, ap);
        va_end(ap);
    }
    return code;
}

static int reg_check(tomo_plugin *self, const char *what, const char *name, const void *fn)
{
    if (!self)
        return TOMO_CODE_INVALID_ARGUMENT;
    if (!self->initializing)
        return reg_fail(self, TOMO_CODE_FAILED_PRECONDITION,
                        "%s registered outside tomo_plugin_init", what);
    if (!name || !*name || strlen(name) > 200)
        return reg_fail(self, TOMO_CODE_INVALID_ARGUMENT, "%s: the name must be 1-200 bytes", what);
    if (!fn)
        return reg_fail(self, TOMO_CODE_INVALID_ARGUMENT, "%s \"%s\": no function", what, name);
    return 0;
}

static int reg_add(tomo_plugin *self, int t, const char *key, const char *what, void *fn, void *ud)
{
    char msg[640];
    if (tomo_registry_add(&self->rt->plugin_reg, t, key, TOMO_IMPL_PLUGIN, self->file, fn, ud, self,
                          what, msg, sizeof(msg)) < 0)
        return reg_fail(self, TOMO_CODE_ALREADY_EXISTS, "%s", msg);
    return 0;
}

static int h_register_rpc(tomo_plugin *self, const char *id, tomo_rpc_fn fn, void *ud)
{
    int rc = reg_check(self, "RPC", id, (const void *)fn);
    if (rc)
        return rc;
    char key[256], what[300];
    size_t i = 0;
    for (; id[i]; i++)
        key[i] = (char)tolower((unsigned char)id[i]);
    key[i] = '\0';
    snprintf(what, sizeof(what), "RPC id \"%s\"", id);
    return reg_add(self, TOMO_REG_T_RPC, key, what, (void *)fn, ud);
}

static int reg_hook(tomo_plugin *self, int kind, const char *name, void *fn, void *ud)
{
    int rc = reg_check(self, "hook", name, fn);
    if (rc)
        return rc;
    char key[256], what[300];
    if (!tomo_runtime_hook_key(kind, name, key, sizeof(key)))
        return reg_fail(self, TOMO_CODE_INVALID_ARGUMENT, "hook name too long");
    tomo_runtime_hook_what(kind, name, what, sizeof(what));
    return reg_add(self, TOMO_REG_T_HOOK, key, what, fn, ud);
}

static int h_register_before(tomo_plugin *self, const char *m, tomo_before_fn fn, void *ud)
{
    return reg_hook(self, TOMO_HOOK_REQ_BEFORE, m, (void *)fn, ud);
}
static int h_register_after(tomo_plugin *self, const char *m, tomo_after_fn fn, void *ud)
{
    return reg_hook(self, TOMO_HOOK_REQ_AFTER, m, (void *)fn, ud);
}
static int h_register_rt_before(tomo_plugin *self, const char *t, tomo_before_fn fn, void *ud)
{
    return reg_hook(self, TOMO_HOOK_RT_BEFORE, t, (void *)fn, ud);
}
static int h_register_rt_after(tomo_plugin *self, const char *t, tomo_after_fn fn, void *ud)
{
    return reg_hook(self, TOMO_HOOK_RT_AFTER, t, (void *)fn, ud);
}

static int h_register_match(tomo_plugin *self, const char *module, const tomo_match_fns *fns,
                            void *ud)
{
    int rc = reg_check(self, "match handler", module, fns);
    if (rc)
        return rc;
    /* copy what the plugin's header version knows; newer members stay NULL */
    tomo_match_fns *copy = tomo_xcalloc(1, sizeof(*copy));
    size_t n = fns->size < sizeof(*copy) ? fns->size : sizeof(*copy);
    memcpy(copy, fns, n);
    copy->size = sizeof(*copy);
    if (n < offsetof(tomo_match_fns, signal) || !copy->init || !copy->join_attempt || !copy->join ||
        !copy->leave || !copy->loop) {
        free(copy);
        return reg_fail(self, TOMO_CODE_INVALID_ARGUMENT,
                        "match handler \"%s\": init, join_attempt, join, leave and loop are "
                        "required (and fns->size set)",
                        module);
    }
    char what[300];
    snprintf(what, sizeof(what), "match handler \"%s\"", module);
    return reg_add(self, TOMO_REG_T_MATCH, module, what, copy, ud);
}

void tomo_plugin_ctx_init(tomo_ctx *c, tomo_runtime *rt, const tomo_runtime_call *call)
{
    memset(c, 0, sizeof(*c));
    c->rt = rt;
    c->call = call;
    if (call && call->session_exp)
        snprintf(c->exp, sizeof(c->exp), "%lld", (long long)call->session_exp);
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

static const char *h_ctx_value(const tomo_ctx *c, const char *key)
{
    if (!c || !key)
        return NULL;
    const tomo_runtime_call *call = c->call;
    const tomo_config *cfg = c->rt->deps.cfg;
    if (!strcmp(key, "node"))
        return cfg->name;
    if (!strcmp(key, "match_id"))
        return c->match_id;
    if (!strcmp(key, "execution_mode"))
        return tomo_runtime_mode_name(
            call ? call->mode
                 : (c->match_id ? TOMO_RUNTIME_MODE_MATCH : TOMO_RUNTIME_MODE_RUN_ONCE));
    if (!strncmp(key, "env.", 4)) {
        size_t kl = strlen(key + 4);
        for (size_t i = 0; i < cfg->runtime.env.n; i++) {
            const char *e = cfg->runtime.env.v[i];
            if (!strncmp(e, key + 4, kl) && e[kl] == '=')
                return e + kl + 1;
        }
        return NULL;
    }
    if (c->mc) {
        if (!strcmp(key, "match_label"))
            return c->mc->label ? c->mc->label : "";
        if (!strcmp(key, "match_tick_rate"))
            return c->tick_rate;
        if (!strncmp(key, "vars.", 5))
            return json_string_value(json_object_get(c->mc->vars, key + 5));
        if (!strcmp(key, "user_session_exp"))
            return c->exp[0] ? c->exp : NULL;
        /* join_attempt only ("" elsewhere): the joining socket's address */
        if (!strcmp(key, "client_ip"))
            return nonempty(c->mc->client_ip);
        if (!strcmp(key, "client_port"))
            return nonempty(c->mc->client_port);
    }
    if (!call)
        return NULL;
    if (!strcmp(key, "user_id"))
        return nonempty(call->user_id);
    if (!strcmp(key, "username"))
        return nonempty(call->user_id) ? nonempty(call->username) : NULL;
    if (!strcmp(key, "session_id"))
        return nonempty(call->session_id);
    if (!strcmp(key, "lang"))
        return nonempty(call->lang);
    if (!strcmp(key, "client_ip"))
        return nonempty(call->client_ip);
    if (!strcmp(key, "client_port"))
        return nonempty(call->client_port);
    if (!strcmp(key, "user_session_exp"))
        return c->exp[0] ? c->exp : NULL;
    if (!strncmp(key, "vars.", 5))
        return json_string_value(json_object_get(call->vars, key + 5));
    return NULL;
}

static tomo_host host_table;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_fill(void)
{
    tomo_host *h = &host_table;
    h->size = sizeof(*h);
    h->abi_major = TOMO_PLUGIN_ABI_MAJOR;
    h->abi_minor = TOMO_PLUGIN_ABI_MINOR;
    h->declare = h_declare;
    h->version = TOMO_VERSION;
    h->alloc = h_alloc;
    h->free = h_free;
    h->log = h_log;
    h->register_rpc = h_register_rpc;
    h->register_before = h_register_before;
    h->register_after = h_register_after;
    h->register_rt_before = h_register_rt_before;
    h->register_rt_after = h_register_rt_after;
    h->register_match = h_register_match;
    h->ctx_value = h_ctx_value;
    tomo_plugin_host_fill_svc(h);
    tomo_plugin_host_fill_match(h);
}

/* ---- loading ---- */

static int ends_so(const char *n)
{
    size_t l = strlen(n);
    return l > 3 && !strcmp(n + l - 3, ".so");
}

/* Every *.so under root/rel, as paths relative to root, sorted. */
static void scan_so(const char *root, const char *rel, char ***out, size_t *n)
{
    char *dir = *rel ? tomo_xasprintf("%s/%s", root, rel) : tomo_xstrdup(root);
    char **names = NULL;
    size_t nn = 0;
    int rc = tomo_runtime_dir_names(dir, &names, &nn);
    free(dir);
    if (rc < 0)
        return; /* the Lua scan reports an unreadable path */
    for (size_t i = 0; i < nn; i++) {
        if (*rel) {
            char *r = tomo_xasprintf("%s/%s", rel, names[i]);
            free(names[i]);
            names[i] = r;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        char *full = tomo_xasprintf("%s/%s", root, names[i]);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            scan_so(root, names[i], out, n);
            free(names[i]);
        } else if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && ends_so(names[i])) {
            *out = tomo_xrealloc(*out, (*n + 1) * sizeof(**out));
            (*out)[(*n)++] = names[i];
        } else {
            free(names[i]);
        }
        free(full);
    }
    free(names);
}

typedef int (*init_fn)(const tomo_host *host, tomo_plugin *self);

static int load_one(tomo_runtime *rt, const char *rel, char *err, size_t errlen)
{
    char *full = tomo_xasprintf("%s/%s", rt->path, rel);
    tomo_plugin *pl = tomo_xcalloc(1, sizeof(*pl));
    pl->rt = rt;
    pl->file = tomo_xstrdup(rel);
    pl->name = tomo_xstrdup(rel);
    rt->plugins = tomo_xrealloc(rt->plugins, (rt->nplugins + 1) * sizeof(*rt->plugins));
    rt->plugins[rt->nplugins++] = pl;
    int rc = 0;
    /* RTLD_LOCAL: plugins never see each other's symbols (nor need tomo's) */
    pl->dl = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    if (!pl->dl) {
        const char *de = dlerror();
        snprintf(err, errlen, "plugin %s cannot be loaded: %s", rel, de ? de : "dlopen failed");
        rc = TOMO_EINVAL;
        goto out;
    }
    init_fn init;
    *(void **)&init = dlsym(pl->dl, "tomo_plugin_init");
    if (!init) {
        snprintf(err, errlen, "plugin %s does not export tomo_plugin_init (include/tomo/plugin.h)",
                 rel);
        rc = TOMO_EINVAL;
        goto out;
    }
    pl->initializing = 1;
    int r = init(&host_table, pl);
    pl->initializing = 0;
    if (pl->refused) {
        snprintf(err, errlen,
                 "plugin %s is built for tomo plugin ABI %u.%u; this tomo implements ABI %u.%u "
                 "(%s)",
                 rel, pl->major, pl->minor, TOMO_PLUGIN_ABI_MAJOR, TOMO_PLUGIN_ABI_MINOR,
                 pl->major != TOMO_PLUGIN_ABI_MAJOR
                     ? "a plugin loads only on the ABI major it was built for: rebuild it"
                     : "it needs a newer tomo, or rebuild it against this tomo's header");
        rc = TOMO_EINVAL;
    } else if (!pl->declared) {
        snprintf(err, errlen,
                 "plugin %s did not declare its ABI (TOMO_PLUGIN_DECLARE must be the "
                 "first statement of tomo_plugin_init)",
                 rel);
        rc = TOMO_EINVAL;
    } else if (pl->err[0]) {
        snprintf(err, errlen, "plugin %s: %s", rel, pl->err);
        rc = TOMO_EINVAL;
    } else if (r != 0) {
        snprintf(err, errlen, "plugin %s: tomo_plugin_init returned %d", rel, r);
        rc = TOMO_EINVAL;
    } else {
        TOMO_LOGI(PLOG, "plugin loaded file=%s name=%s abi=%u.%u", rel, pl->name, pl->major,
                  pl->minor);
    }
out:
    free(full);
    return rc;
}

int tomo_plugins_load(tomo_runtime *rt, char *err, size_t errlen)
{
    pthread_once(&host_once, host_fill);
    if (!rt->path || !*rt->path)
        return 0;
    char **files = NULL;
    size_t n = 0;
    scan_so(rt->path, "", &files, &n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = load_one(rt, files[i], err, errlen);
        free(files[i]);
    }
    free(files);
    return rc;
}

void tomo_plugins_free(tomo_runtime *rt)
{
    for (size_t i = 0; i < rt->nplugins; i++) {
        /* no dlclose: a plugin may have started threads or handed out
         * function pointers (atexit, TLS destructors) that outlive us */
        free(rt->plugins[i]->file);
        free(rt->plugins[i]->name);
        free(rt->plugins[i]);
    }
    free(rt->plugins);
    rt->plugins = NULL;
    rt->nplugins = 0;
}

/* ---- calls ---- */

/* A plugin's non-zero result as Nakama's error (the Lua mapping): a gRPC
 * code 1..16 is the client's code; anything else is 13 and logged. */
static void map_error(const tomo_impl *e, int r, const char *msg, tomo_err *err)
{
    const tomo_plugin *pl = e->plugin;
    if (r >= 1 && r <= 16) {
        tomo_err_set(err, r, "%s", msg ? msg : "");
        return;
    }
    TOMO_LOGE(PLOG, "plugin function error plugin=%s fn=%s rc=%d error=%s", pl->name, e->key, r,
              msg ? msg : "");
    tomo_err_set(err, TOMO_GRPC_INTERNAL, "%s", msg && *msg ? msg : "Runtime function failed.");
}

int tomo_plugin_rpc(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                    const char *payload, size_t len, char **out, size_t *out_len, tomo_err *err)
{
    tomo_ctx c;
    tomo_plugin_ctx_init(&c, rt, call);
    /* a NUL-terminated copy: plugins may treat the payload as a C string */
    char *p = tomo_xmalloc(len + 1);
    if (len)
        memcpy(p, payload, len);
    p[len] = '\0';
    char *o = NULL, *msg = NULL;
    size_t ol = 0;
    int r = ((tomo_rpc_fn)e->fn)(e->ud, &c, p, len, &o, &ol, &msg);
    free(p);
    if (r == 0) {
        *out = o;
        *out_len = o ? ol : 0;
        free(msg);
        return 0;
    }
    free(o);
    map_error(e, r, msg, err);
    free(msg);
    return TOMO_EINVAL;
}

int tomo_plugin_before(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                       json_t *in, json_t **out, tomo_err *err)
{
    tomo_ctx c;
    tomo_plugin_ctx_init(&c, rt, call);
    char *text = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY);
    char *o = NULL, *msg = NULL;
    int r = ((tomo_before_fn)e->fn)(e->ud, &c, text ? text : "{}", &o, &msg);
    free(text);
    int rc = 0;
    *out = NULL;
    if (r == 0 && !o) {
        *out = json_incref(in);
    } else if (r == 0) {
        json_t *v = json_loads(o, 0, NULL);
        if (!json_is_object(v)) {
            json_decref(v);
            TOMO_LOGE(PLOG, "before hook returned invalid JSON plugin=%s hook=%s",
                      ((const tomo_plugin *)e->plugin)->name, e->key);
            tomo_err_set(err, TOMO_GRPC_INTERNAL, "Could not complete runtime Before function.");
            rc = TOMO_EINVAL;
        } else {
            *out = v;
        }
    } else if (r != TOMO_PLUGIN_DROP) {
        map_error(e, r, msg, err);
        rc = TOMO_EINVAL;
    }
    free(o);
    free(msg);
    return rc;
}

void tomo_plugin_after(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                       json_t *outv, json_t *in)
{
    tomo_ctx c;
    tomo_plugin_ctx_init(&c, rt, call);
    char *o = outv ? json_dumps(outv, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *i = in ? json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int r = ((tomo_after_fn)e->fn)(e->ud, &c, o ? o : "{}", i ? i : "{}");
    if (r != 0)
        TOMO_LOGW(PLOG, "after hook failed plugin=%s hook=%s rc=%d",
                  ((const tomo_plugin *)e->plugin)->name, e->key, r);
    free(o);
    free(i);
}
