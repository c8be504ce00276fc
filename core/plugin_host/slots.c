/* slots: a channel instance's provider-request slots, at most its
 * configured concurrency in use at once across every worker. */
#include "plugin_host/instances.h"

#include <pthread.h>

size_t td_instance_slots_acquire(struct td_instance *in, size_t want)
{
    pthread_mutex_lock(&in->slots_lock);
    while (in->inflight >= in->cfg->policy.concurrency)
        pthread_cond_wait(&in->slots_free, &in->slots_lock);
    size_t free_slots = (size_t)(in->cfg->policy.concurrency - in->inflight);
    size_t take = want < free_slots ? want : free_slots;
    if (take < 1)
        take = 1;
    in->inflight += (int)take;
    pthread_mutex_unlock(&in->slots_lock);
    return take;
}

void td_instance_slots_release(struct td_instance *in, size_t n)
{
    pthread_mutex_lock(&in->slots_lock);
    in->inflight -= (int)n;
    pthread_cond_broadcast(&in->slots_free);
    pthread_mutex_unlock(&in->slots_lock);
}

void td_instance_slot_acquire(struct td_instance *in)
{
    td_instance_slots_acquire(in, 1);
}

void td_instance_slot_release(struct td_instance *in)
{
    td_instance_slots_release(in, 1);
}
