// Asserts what the chart promises, on one rendering of it:
//   node chart_facts.js MODELS_DIR SCENARIO RENDERED.yaml [BIN_DIR]
// SCENARIO is default, external-db, scaled or full (the values files next to this
// script). With BIN_DIR (the built binaries), every flag and environment variable the
// manifests give a pipeline binary must appear in that binary's --help.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const [modelsArg, scenario, rendered, binDir] = process.argv.slice(2);
const yaml = require(path.join(path.resolve(modelsArg), 'js-yaml'));
const docs = yaml.loadAll(fs.readFileSync(rendered, 'utf8')).filter((d) => d);
const release = 't';
const ns = 'telemetry';
const base = `${release}-gpu-telemetry`;
const fqdn = (svc) => `${svc}.${ns}.svc.cluster.local`;

let failures = 0;
let passes = 0;
function check(cond, what) {
  if (cond) {
    passes++;
  } else {
    failures++;
    console.error(`FAIL [${scenario}] ${what}`);
  }
}
const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const all = (kind) => docs.filter((d) => d.kind === kind);
const container = (w) => w.spec.template.spec.containers[0];
const argAfter = (args, flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const envOf = (c, name) => (c.env || []).find((e) => e.name === name);

const writerReplicas = { default: 1, 'external-db': 1, scaled: 3, full: 2 }[scenario];
const readerReplicas = { default: 1, 'external-db': 1, scaled: 4, full: 2 }[scenario];
const bundledDb = scenario !== 'external-db';

// --- writers: a StatefulSet with a volume per pod, drained on SIGTERM -------------------
const writer = find('StatefulSet', `${base}-writer`);
check(writer, 'the writer is a StatefulSet');
if (writer) {
  const c = container(writer);
  check(writer.spec.replicas === writerReplicas, `writer replicas = ${writerReplicas}`);
  check(writer.spec.serviceName === `${base}-writer-headless`, 'writer StatefulSet is governed by the headless Service');
  const vct = writer.spec.volumeClaimTemplates || [];
  check(vct.length === 1 && vct[0].metadata.name === 'data', 'writer has a volumeClaimTemplate "data"');
  check((c.volumeMounts || []).some((m) => m.name === 'data' && m.mountPath === argAfter(c.args, '--data-dir')),
    'the writer volume is mounted at --data-dir');
  check(c.command[0] === '/usr/local/bin/broker' && c.args[0] === 'writer', 'writer runs `broker writer`');
  check(argAfter(c.args, '--listen') === '0.0.0.0:8081', 'writer listens on 0.0.0.0:8081');
  const drain = Number(argAfter(c.args, '--drain-timeout-seconds'));
  check(drain > 0, 'writer gets --drain-timeout-seconds');
  check(writer.spec.template.spec.terminationGracePeriodSeconds > drain,
    'writer terminationGracePeriodSeconds is larger than its drain timeout');
  check(c.readinessProbe && c.readinessProbe.httpGet.path === '/readyz', 'writer readiness probe is /readyz');
  check(c.livenessProbe && c.livenessProbe.httpGet.path === '/healthz', 'writer liveness probe is /healthz');
  check(writer.spec.persistentVolumeClaimRetentionPolicy.whenScaled === 'Retain',
    'a scaled-away writer keeps its volume');
}
const writerHeadless = find('Service', `${base}-writer-headless`);
check(writerHeadless && writerHeadless.spec.clusterIP === 'None' && writerHeadless.spec.publishNotReadyAddresses === true,
  'writer headless Service exists and publishes not-ready (draining) writers');
const writerSvc = find('Service', `${base}-writer`);
check(writerSvc && writerSvc.spec.clusterIP !== 'None' && !writerSvc.spec.publishNotReadyAddresses,
  'streamers publish through a Service of ready writers only');

// --- readers: a StatefulSet, DNS membership, writers found through DNS -----------------
const reader = find('StatefulSet', `${base}-reader`);
check(reader, 'the reader is a StatefulSet');
if (reader) {
  const c = container(reader);
  check(reader.spec.replicas === readerReplicas, `reader replicas = ${readerReplicas}`);
  check(reader.spec.serviceName === `${base}-reader-headless`, 'reader StatefulSet is governed by its headless Service');
  check(c.args[0] === 'reader', 'reader runs `broker reader`');
  check(argAfter(c.args, '--membership-dns') === fqdn(`${base}-reader-headless`),
    'reader --membership-dns names the readers\' headless Service');
  check(argAfter(c.args, '--writers') === `dns:${fqdn(`${base}-writer-headless`)}:8081`,
    'reader --writers is dns:<writers headless Service>:8081');
  check(argAfter(c.args, '--listen') === '0.0.0.0:8082', 'reader listens on 0.0.0.0:8082');
  check(!c.args.includes('--ordinal') && !c.args.includes('--replicas'), 'reader has no static membership flags');
  check(reader.spec.template.spec.terminationGracePeriodSeconds > Number(argAfter(c.args, '--drain-timeout-seconds')),
    'reader terminationGracePeriodSeconds is larger than its drain timeout');
  const rollAnnotation = (reader.spec.template.metadata.annotations || {})['gpu-telemetry.io/writer-replicas'];
  check(Number(argAfter(c.args, '--writers-refresh-ms')) >= 100,
    'readers re-resolve the writers periodically (--writers-refresh-ms)');
  if (scenario === 'full') {
    check(rollAnnotation === String(writerReplicas), 'reader.rollOnWriterChange=true: a change in the number of writers rolls the readers');
  } else {
    check(rollAnnotation === undefined, 'by default a change in the number of writers does not roll the readers');
  }
  const wc = writer && container(writer);
  check(wc && argAfter(c.args, '--partitions') === argAfter(wc.args, '--partitions') &&
    argAfter(c.args, '--topics') === argAfter(wc.args, '--topics'), 'readers and writers agree on the partitions');
}
const readerHeadless = find('Service', `${base}-reader-headless`);
check(readerHeadless && readerHeadless.spec.clusterIP === 'None' && readerHeadless.spec.publishNotReadyAddresses === true,
  'reader headless Service counts not-ready readers too');

// --- PodDisruptionBudgets ------------------------------------------------------------------
for (const comp of ['writer', 'reader']) {
  const pdb = find('PodDisruptionBudget', `${base}-${comp}`);
  check(pdb && pdb.spec.selector.matchLabels['app.kubernetes.io/component'] === comp, `${comp} has a PodDisruptionBudget`);
}

// --- collectors: one Deployment + HPA per reader ordinal --------------------------------
const collectors = all('Deployment').filter((d) => d.metadata.labels['app.kubernetes.io/component'] === 'collector');
check(collectors.length === readerReplicas, `one collector Deployment per reader (${readerReplicas})`);
for (let i = 0; i < readerReplicas; i++) {
  const d = find('Deployment', `${base}-collector-${i}`);
  check(d, `collector Deployment ${i} exists`);
  if (!d) continue;
  const c = container(d);
  check(argAfter(c.args, '--reader') === `http://${base}-reader-${i}.${fqdn(`${base}-reader-headless`)}:8082`,
    `collector ${i} leases from reader ${i} by its stable name`);
  const hpa = find('HorizontalPodAutoscaler', `${base}-collector-${i}`);
  if (scenario === 'full') {
    check(!hpa && d.spec.replicas === 3, `collector ${i}: autoscaling off, fixed replicas`);
  } else {
    check(hpa && hpa.spec.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === d.metadata.name,
      `collector ${i} has an HPA on its Deployment`);
    check(hpa && hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu'),
      `collector ${i} HPA scales on CPU`);
    check(d.spec.replicas === undefined, `collector ${i}: the HPA owns replicas`);
  }
}

// --- streamer and apigw ------------------------------------------------------------------
const streamer = find('Deployment', `${base}-streamer`);
check(streamer, 'the streamer is a Deployment');
if (streamer) {
  const c = container(streamer);
  check(argAfter(c.args, '--broker') === `http://${fqdn(`${base}-writer`)}:8081`, 'streamer publishes to the writer Service');
  if (scenario === 'full') {
    check(argAfter(c.args, '--scrape') === 'http://dcgm-exporter.gpu:9400/metrics' && !c.args.includes('--csv'),
      'streamer.scrape replaces --csv');
    check(find('HorizontalPodAutoscaler', `${base}-streamer`), 'streamer HPA when enabled');
  } else {
    check(argAfter(c.args, '--csv') === '/usr/share/gpu-telemetry/dcgm_metrics.csv', 'streamer replays the CSV baked into the image');
    check(argAfter(c.args, '--loops') !== undefined && argAfter(c.args, '--rate') !== undefined, 'streamer gets --loops and --rate');
  }
  if (scenario === 'scaled') {
    check(argAfter(c.args, '--loops') === '3' && argAfter(c.args, '--rate') === '250.5', 'values choose --loops and --rate');
  }
}
const apigw = find('Deployment', `${base}-apigw`);
check(apigw, 'apigw is a Deployment');
check(find('Service', `${base}-apigw`), 'apigw has a Service');
if (scenario !== 'full') {
  check(find('HorizontalPodAutoscaler', `${base}-apigw`), 'apigw has an HPA');
}

// --- database and migrations -------------------------------------------------------------
const pg = find('StatefulSet', `${base}-postgresql`);
const job = find('Job', `${base}-migrate`);
check(job, 'migrations run as a Job');
if (job) {
  const hook = job.metadata.annotations['helm.sh/hook'] || '';
  check(hook.split(',').includes('pre-upgrade'), 'the migrate Job is a pre-upgrade hook');
  // full.yaml overrides migrations.hooks.
  const installHook = bundledDb && scenario !== 'full' ? 'post-install' : 'pre-install';
  check(hook.split(',').includes(installHook), `the migrate Job is a ${installHook} hook`);
  check(job.metadata.annotations['helm.sh/hook-delete-policy'], 'the migrate Job has a hook delete policy');
  const c = container(job);
  check(c.command[0] === '/usr/local/bin/migrate' && c.args[c.args.length - 1] === 'up', 'the Job runs `migrate ... up`');
}
const dbUsers = [job, apigw, ...collectors].filter((x) => x);
if (bundledDb) {
  check(pg && (pg.spec.volumeClaimTemplates || []).length === 1, 'bundled PostgreSQL is a StatefulSet with a PVC');
  check(find('Secret', `${base}-postgresql`) || scenario === 'full', 'the chart keeps the database password in a Secret');
  for (const w of dbUsers) {
    const c = container(w);
    check(envOf(c, 'DATABASE_URL') && envOf(c, 'DATABASE_URL').value.includes(`host=${fqdn(`${base}-postgresql`)}`),
      `${w.metadata.name}: DATABASE_URL points at the bundled PostgreSQL`);
    check(envOf(c, 'PGPASSWORD') && envOf(c, 'PGPASSWORD').valueFrom.secretKeyRef, `${w.metadata.name}: password from a Secret`);
  }
} else {
  check(!pg && !find('Secret', `${base}-postgresql`) && !find('Service', `${base}-postgresql`),
    'no bundled PostgreSQL with an external database');
  for (const w of dbUsers) {
    const ref = (envOf(container(w), 'DATABASE_URL') || {}).valueFrom;
    check(ref && ref.secretKeyRef.name === 'telemetry-db' && ref.secretKeyRef.key === 'url',
      `${w.metadata.name}: DATABASE_URL from the existing Secret`);
  }
}

// --- every pipeline pod: probes, resources, security, metrics ----------------------------
const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'Job'].includes(d.kind));
for (const w of workloads) {
  const spec = w.spec.template.spec;
  const isPg = w === pg;
  for (const c of spec.containers) {
    const where = `${w.kind}/${w.metadata.name}`;
    check(c.resources && c.resources.requests && c.resources.limits, `${where}: resource requests and limits`);
    const sc = c.securityContext || {};
    check(sc.readOnlyRootFilesystem === true && sc.allowPrivilegeEscalation === false &&
      sc.capabilities.drop.includes('ALL'), `${where}: read-only root, no privilege escalation, no capabilities`);
    check(spec.securityContext.runAsNonRoot === true, `${where}: runs as non-root`);
    if (w.kind !== 'Job' && !isPg) {
      check(c.livenessProbe.httpGet.path === '/healthz' && c.readinessProbe.httpGet.path === '/readyz',
        `${where}: liveness /healthz, readiness /readyz`);
      const ann = w.spec.template.metadata.annotations || {};
      const port = String(c.ports[0].containerPort);
      if (scenario === 'full') {
        check(!ann['prometheus.io/scrape'], `${where}: scrape annotations can be turned off`);
      } else {
        check(ann['prometheus.io/scrape'] === 'true' && ann['prometheus.io/path'] === '/metrics' &&
          ann['prometheus.io/port'] === port, `${where}: Prometheus scrape annotations on /metrics`);
      }
      check(spec.enableServiceLinks === false, `${where}: no service-link variables (they could shadow flag variables)`);
    }
  }
}
check(scenario === 'full' ? all('ServiceMonitor').length === 1 : all('ServiceMonitor').length === 0,
  'a ServiceMonitor only when metrics.serviceMonitor.enabled');

// --- scenario extras ----------------------------------------------------------------------
if (scenario === 'full') {
  const w = container(writer);
  check(argAfter(w.args, '--max-inflight-bytes') === '134217728', 'large byte counts are rendered as integers');
  check(argAfter(w.args, '--topics') === 'telemetry:64,events:8' && !w.args.includes('--partitions'),
    'broker.topics replaces --partitions');
  check(writer.spec.template.spec.terminationGracePeriodSeconds === 200, 'an explicit writer grace period is kept');
  check(w.args.includes('--retention-seconds') && w.args.includes('--disk-budget-bytes'), 'optional writer flags are passed');
  const hpa0 = find('HorizontalPodAutoscaler', `${base}-collector-0`);
  check(!hpa0, 'collector autoscaling can be turned off');
  const a = container(apigw);
  check(argAfter(a.args, '--auth-token-file') === '/etc/gpu-telemetry/auth/token', 'apigw reads its token from the Secret');
  check(find('Ingress', `${base}-apigw`), 'apigw Ingress when enabled');
  const sm = all('ServiceMonitor')[0];
  check(sm && sm.spec.endpoints[0].path === '/metrics', 'the ServiceMonitor scrapes /metrics');
}
if (scenario === 'scaled') {
  const hpa3 = find('HorizontalPodAutoscaler', `${base}-collector-3`);
  const obj = hpa3 && hpa3.spec.metrics.find((m) => m.type === 'Object');
  check(obj && obj.object.describedObject.name === `${base}-reader-3` &&
    obj.object.metric.name === 'broker_reader_buffer_utilization_ratio',
    'collector HPA can follow its reader\'s buffer utilisation (custom metrics)');
}

// --- flags and variables exist in the binaries -------------------------------------------
if (binDir) {
  // A busy machine can refuse a fork for a moment (EAGAIN): try again a few times.
  const run = (exe, args) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return execFileSync(exe, args, { encoding: 'utf8' });
      } catch (e) {
        if (e.code !== 'EAGAIN' || attempt === 10) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200 * attempt);
      }
    }
  };
  const helpCache = new Map();
  const help = (bin, sub) => {
    const key = `${bin} ${sub || ''}`;
    if (!helpCache.has(key)) {
      const exe = path.join(binDir, bin);
      let text = run(exe, ['--help']);
      if (sub) text += run(exe, [sub, '--help']);
      helpCache.set(key, text);
    }
    return helpCache.get(key);
  };
  const fromLibpq = new Set(['PGPASSWORD']);
  for (const w of workloads) {
    if (w === pg) continue;
    for (const c of w.spec.template.spec.containers) {
      const bin = path.basename(c.command[0]);
      if (!fs.existsSync(path.join(binDir, bin))) {
        check(false, `${bin} is not in ${binDir}`);
        continue;
      }
      const sub = bin === 'broker' ? c.args[0] : bin === 'migrate' ? c.args[c.args.length - 1] : undefined;
      const text = help(bin, sub);
      for (const a of c.args.filter((x) => x.startsWith('--'))) {
        const flag = a.split('=')[0];
        check(new RegExp(`(^|[\\s,])${flag}\\b`).test(text), `${w.metadata.name}: ${bin} ${sub || ''} has ${flag}`);
      }
      for (const e of c.env || []) {
        if (fromLibpq.has(e.name)) continue;
        check(text.includes(`Env:${e.name})`), `${w.metadata.name}: ${bin} reads ${e.name}`);
      }
    }
  }
}

console.log(`chart facts [${scenario}]: ${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
