// tencentcloud-sdk-nodejs-common, the Node TC3 client: derives the
// credential scope's service from the endpoint's first label ("127"), signs
// host without its port, throws on any non-200 and on a body without
// Response. Prints one JSON line for test/node_test.go to check.
const tc = require('tencentcloud-sdk-nodejs-common');
const [addr, ak, sk] = process.argv.slice(2);

(async () => {
  const c = new tc.CommonClient(addr, '2019-01-18', {
    credential: { secretId: ak, secretKey: sk },
    region: 'ap-guangzhou',
    profile: { httpProfile: { endpoint: addr, protocol: 'http:' } },
  });
  const created = await c.request('CreateKey', { Alias: 'node', Type: 2 });
  const params = await c.request('GetParametersForImport',
    { KeyId: created.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
  const listed = await c.request('ListKeys', { Limit: 5 });
  let code = '';
  try {
    await c.request('DescribeKey', { KeyId: '00000000-0000-4000-8000-000000000000' });
  } catch (e) {
    code = e.code;
  }
  console.log(JSON.stringify({ state: created.KeyState, publicKey: params.PublicKey, validTo: params.ParametersValidTo, total: listed.TotalCount, errorCode: code }));
})().catch((e) => { console.error('FAIL ' + e.message); process.exit(1); });
