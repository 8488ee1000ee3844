/**
 * RAID-1E mirrors under RAID-0, with md-style metadata, write-intent bitmaps, resync and scrub.
 *
 * <p>Layers (each one job): {@link io.nbdvault.replication.StripedDevice} over per-group
 * {@link io.nbdvault.replication.IntentLogDevice} over {@link io.nbdvault.replication.MirroredDevice}
 * over each member's chain (bounded → deadline → metered). Jobs, membership, returning members,
 * administration and status live beside the data path, not in it.
 *
 * <p>Thread model (the whole of it is in ARCHITECTURE.md at the repository's root): data-path
 * continuations run on whichever thread completed a member's request and never block or wait on a
 * contended lock; every membership change, probe, admin operation and job step runs on the array's
 * single control thread ({@code nbdvault-array-control}), which only starts asynchronous work; a
 * failure seen on an I/O thread is handed to it. Buffers: a read's buffer belongs to its caller, a
 * write's is lent until its future completes; a late answer after a deadline is released by the
 * deadline layer.
 */
package io.nbdvault.replication;
