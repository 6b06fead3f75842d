// Drives Keycloak's official admin client (@keycloak/keycloak-admin-client) through the
// client-secret operations the rotator uses, against whatever server KC_CONTRACT names, and
// prints what the library returned as one JSON object on stdout. It asserts nothing itself:
// testkit/tests/keycloak_contract.rs reads the output and checks it.
//
// KC_CONTRACT = {
//   baseUrl, realm, token,            // the server root, the realm, a manage-clients bearer
//   noRoleToken,                      // a bearer valid in the realm holding no admin role
//   plainClientId, rotatingClientId,  // clients without / with the secret-rotation policy
//   unknownId, missingRealm,          // a UUID no client has, a realm that does not exist
//   chosenSecret                      // a value to set with a PUT of the client
// }
import KcAdminClient from "@keycloak/keycloak-admin-client";

const cfg = JSON.parse(process.env.KC_CONTRACT ?? "{}");

function admin(token, realmName = cfg.realm) {
  const kc = new KcAdminClient({ baseUrl: cfg.baseUrl, realmName });
  kc.setAccessToken(token);
  return kc;
}

// Each step records either {ok: <what the library returned>} or {error: {...}}: the error class,
// its message (the library takes it from the body's "error" or "errorMessage"), the HTTP status
// and the parsed body.
const steps = {};
async function step(name, fn) {
  try {
    const value = await fn();
    steps[name] = { ok: value === undefined ? null : value };
  } catch (e) {
    steps[name] = {
      error: {
        name: e?.constructor?.name ?? typeof e,
        message: e?.message ?? String(e),
        status: e?.response?.status ?? null,
        data: e?.responseData ?? null,
      },
    };
  }
}

const kc = admin(cfg.token);
const find = async (clientId) => kc.clients.find({ clientId });
const idOf = async (clientId) => (await find(clientId))[0].id;

// A client without the policy: read, regenerate (the old secret is gone), nothing rotated.
await step("plain.find", () => find(cfg.plainClientId));
const plainId = await idOf(cfg.plainClientId);
await step("plain.findOne", () => kc.clients.findOne({ id: plainId }));
await step("plain.getClientSecret", () => kc.clients.getClientSecret({ id: plainId }));
await step("plain.generateNewClientSecret", () =>
  kc.clients.generateNewClientSecret({ id: plainId }),
);
await step("plain.getClientSecret.after", () => kc.clients.getClientSecret({ id: plainId }));
await step("plain.find.after", () => find(cfg.plainClientId));
await step("plain.invalidateSecret", () => kc.clients.invalidateSecret({ id: plainId }));
await step("plain.update", () =>
  kc.clients.update({ id: plainId }, { clientId: cfg.plainClientId, secret: cfg.chosenSecret }),
);
await step("plain.getClientSecret.afterUpdate", () =>
  kc.clients.getClientSecret({ id: plainId }),
);

// A client with the policy: the first regenerate keeps the old secret as the rotated one, the
// second replaces it, invalidateSecret drops it.
const rotId = await idOf(cfg.rotatingClientId);
await step("rot.getClientSecret", () => kc.clients.getClientSecret({ id: rotId }));
await step("rot.generateNewClientSecret.1", () =>
  kc.clients.generateNewClientSecret({ id: rotId }),
);
await step("rot.findOne.1", () => kc.clients.findOne({ id: rotId }));
await step("rot.generateNewClientSecret.2", () =>
  kc.clients.generateNewClientSecret({ id: rotId }),
);
await step("rot.find.2", () => find(cfg.rotatingClientId));
await step("rot.invalidateSecret", () => kc.clients.invalidateSecret({ id: rotId }));
await step("rot.findOne.afterInvalidate", () => kc.clients.findOne({ id: rotId }));
await step("rot.invalidateSecret.again", () => kc.clients.invalidateSecret({ id: rotId }));

// Errors, as the library maps them.
await step("unknown.findOne", () => kc.clients.findOne({ id: cfg.unknownId }));
await step("unknown.getClientSecret", () => kc.clients.getClientSecret({ id: cfg.unknownId }));
await step("unknown.generateNewClientSecret", () =>
  kc.clients.generateNewClientSecret({ id: cfg.unknownId }),
);
await step("unknown.invalidateSecret", () => kc.clients.invalidateSecret({ id: cfg.unknownId }));
await step("unknown.find", () => kc.clients.find({ clientId: "no-such-client" }));
await step("missingRealm.find", () =>
  admin(cfg.token, cfg.missingRealm).clients.find({ clientId: cfg.plainClientId }),
);
await step("badToken.find", () =>
  admin("not-a-token-the-server-issued").clients.find({ clientId: cfg.plainClientId }),
);
const noRole = admin(cfg.noRoleToken);
await step("noRole.find", () => noRole.clients.find({ clientId: cfg.plainClientId }));
await step("noRole.getClientSecret", () => noRole.clients.getClientSecret({ id: plainId }));
await step("noRole.generateNewClientSecret", () =>
  noRole.clients.generateNewClientSecret({ id: plainId }),
);
await step("noRole.invalidateSecret", () => noRole.clients.invalidateSecret({ id: plainId }));

process.stdout.write(JSON.stringify({ steps }) + "\n");
