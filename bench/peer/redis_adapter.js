// node-oidc-provider storage adapter on Redis (ioredis), after the library's example adapter:
// every worker of the cluster reads and writes the same keys, so a code, session, interaction
// or token issued by one worker is found by the other.
//
// - Consumable models (codes, refresh tokens) are hashes {payload, consumed}: consume() marks
//   them, and the provider refuses (and treats as reuse) a consumed one.
// - Everything else is a JSON string. Every key expires with its model's TTL.
// - Tokens of a grant are listed under grant:<grantId> so revokeByGrantId() can delete them.

import Redis from 'ioredis';

const CONSUMABLE = new Set([
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

export function redisAdapter(url, prefix) {
  const client = new Redis(url, { keyPrefix: prefix });

  const grantKeyFor = (id) => `grant:${id}`;
  const userCodeKeyFor = (userCode) => `userCode:${userCode}`;
  const uidKeyFor = (uid) => `uid:${uid}`;

  class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const multi = client.multi();
      if (CONSUMABLE.has(this.name)) {
        multi.hset(key, { payload: JSON.stringify(payload) });
      } else {
        multi.set(key, JSON.stringify(payload));
      }
      if (expiresIn) {
        multi.expire(key, expiresIn);
      }
      if (GRANTABLE.has(this.name) && payload.grantId) {
        const grantKey = grantKeyFor(payload.grantId);
        multi.rpush(grantKey, key);
        const ttl = await client.ttl(grantKey);
        if (expiresIn > ttl) {
          multi.expire(grantKey, expiresIn);
        }
      }
      if (payload.userCode) {
        multi.set(userCodeKeyFor(payload.userCode), id, 'EX', expiresIn);
      }
      if (payload.uid) {
        multi.set(uidKeyFor(payload.uid), id, 'EX', expiresIn);
      }
      await multi.exec();
    }

    async find(id) {
      const key = this.key(id);
      if (CONSUMABLE.has(this.name)) {
        const data = await client.hgetall(key);
        if (!data || !data.payload) {
          return undefined;
        }
        const { payload, ...rest } = data;
        return { ...rest, ...JSON.parse(payload) };
      }
      const data = await client.get(key);
      return data ? JSON.parse(data) : undefined;
    }

    async findByUid(uid) {
      const id = await client.get(uidKeyFor(uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await client.get(userCodeKeyFor(userCode));
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await client.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = grantKeyFor(grantId);
      const keys = await client.lrange(grantKey, 0, -1);
      const multi = client.multi();
      for (const key of keys) {
        // lrange returns the stored names, which already carry no prefix: ioredis adds it.
        multi.del(key);
      }
      multi.del(grantKey);
      await multi.exec();
    }
  }

  return { RedisAdapter, client };
}
