// Stops what global-setup started and removes everything it created: processes, app containers
// (by the namespace label the agent puts on them), images, the NATS namespace and the database.
export default async function globalTeardown() {
  const state = globalThis.__GANTRY_E2E__;
  if (!state) return;
  const { platform, db, ns, docker, images } = state;
  await platform.stop();
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`gantry.namespace=${ns.namespace}`] },
  });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  for (const tag of Object.values(images))
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
  await ns.destroy();
  await db.drop();
}
