/* harness/fake/kube_store.c - the objects of one cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

void
kstore_init(struct fake *f, struct kcluster *kc)
{
	json_t *kube = fake_db(f, "kube");

	if (json_object_get(kube, kc->key) == NULL)
		json_object_set_new(kube, kc->key,
		                    json_pack("{s:i, s:{}}", "rv", 1, "objects"));
}
