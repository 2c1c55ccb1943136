/* harness/fake/kube_api.h - what the files of the Kubernetes API verbs
 * share: kube_api.c (routing, get, list), kube_obj.c (reading and
 * checking the objects in requests, storing them), kube_write.c
 * (create, replace, patch, delete, subresources). */
#ifndef MESHVM_FAKE_KUBE_API_H
#define MESHVM_FAKE_KUBE_API_H

#include "harness/fake/kube_private.h"
#include "harness/fake/svc.h"

#define MAX_CONFLICTS 16

struct kreq {
	struct kkind k;
	const char *ns;       /* NULL: cluster-scoped, or every namespace */
	const char *name;     /* NULL: the collection */
	const char *sub;      /* subresource or NULL */
	char gv[256];         /* "v1", "apps/v1" */
	bool builtin;
};

void ka_qualified(const struct kkind *k, const char *name, char *buf,
                  size_t len);
void ka_version_answer(struct fresp *rs);
const char *ka_media_type(const struct freq *rq, char *buf, size_t len);
void ka_manager_of(const struct freq *rq, const char *fallback, char *buf,
                   size_t len);
bool ka_dry_run(const struct freq *rq);
json_t *ka_body_json(const struct freq *rq, struct fresp *rs);
json_t *ka_body_yaml(const struct freq *rq, struct fresp *rs);
int ka_check_type_meta(const struct kreq *kr, json_t *obj, struct fresp *rs);
json_t *ka_meta_of(json_t *obj);
const char *ka_name_problem(const struct kkind *k, const char *name);
void ka_invalid(struct fresp *rs, const struct kreq *kr, const char *name,
                const char *field, const char *value, const char *why);
int ka_validate(const struct freq *rq, const struct kreq *kr, json_t *obj,
                struct fresp *rs, bool apply);
void ka_keep_server_fields(const json_t *live, json_t *obj,
                           const struct kreq *kr);
json_t *ka_view(struct fake *f, struct freq *rq, const struct kreq *kr,
                json_t *obj);
void ka_store(struct fake *f, struct freq *rq, const struct kreq *kr,
              json_t *obj, bool created);
bool ka_namespace_missing(struct fake *f, struct freq *rq,
                          const struct kreq *kr, struct fresp *rs,
                          const char *ns);
void ka_get(struct fake *f, struct freq *rq, const struct kreq *kr,
            struct fresp *rs);
void ka_list(struct fake *f, struct freq *rq, const struct kreq *kr,
             struct fresp *rs);
void ka_create(struct fake *f, struct freq *rq, const struct kreq *kr,
               struct fresp *rs);
void ka_replace(struct fake *f, struct freq *rq, const struct kreq *kr,
                struct fresp *rs);
void ka_patch(struct fake *f, struct freq *rq, const struct kreq *kr,
              struct fresp *rs);
void ka_delete(struct fake *f, struct freq *rq, const struct kreq *kr,
               struct fresp *rs);
void ka_delete_collection(struct fake *f, struct freq *rq,
                          const struct kreq *kr, struct fresp *rs);
void ka_status(struct fake *f, struct freq *rq, const struct kreq *kr,
               struct fresp *rs);
void ka_scale(struct fake *f, struct freq *rq, const struct kreq *kr,
              struct fresp *rs);

#endif
