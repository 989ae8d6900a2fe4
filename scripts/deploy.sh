#!/usr/bin/env bash
# Prints the Kubernetes manifests that run warpdns as the cluster DNS (in
# place of kube-dns or CoreDNS), as CoreDNS's deployment/kubernetes/deploy.sh
# did:
#
#   scripts/deploy.sh [OPTIONS] SERVICE_CIDR [DOMAIN] | kubectl apply -f -
#
# SERVICE_CIDR  the cluster's service range (kube-apiserver --service-cluster-ip-range)
# DOMAIN        the cluster domain, default cluster.local
#
# Options:
#   --dns-ip IP     the kube-dns Service address; default: the address of the
#                   running kube-dns Service (kubectl), else the 10th address
#                   of SERVICE_CIDR (kubeadm's choice: 10.96.0.10 for 10.96.0.0/12)
#   --image IMAGE   container image, default warpdns/warpdns:0.1.0
#   --replicas N    default 2
#   --dpdk          dedicated NIC nodes: host network, hugepages, the
#                   capabilities DPDK needs, only on nodes labelled
#                   warpdns.io/dpdk=true; the Corefile's `io dpdk` block
#                   serves on the NIC given by --nic at the node's address
#   --nic DEVARGS   with --dpdk: the NIC on every such node, a PCI address
#                   (0000:03:00.0, bound to vfio-pci) or an AF_XDP vdev
#                   (net_af_xdp0,iface=eth1)
#
# Prints ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap (the
# Corefile), Deployment and the kube-dns Service. See docs/kubernetes.md.
set -euo pipefail

usage() {
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
}

DNS_IP=""
IMAGE="warpdns/warpdns:0.1.0"
REPLICAS=2
DPDK=0
NIC=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dns-ip) DNS_IP="${2:?--dns-ip needs an address}"; shift 2 ;;
    --image) IMAGE="${2:?--image needs an image}"; shift 2 ;;
    --replicas) REPLICAS="${2:?--replicas needs a number}"; shift 2 ;;
    --dpdk) DPDK=1; shift ;;
    --nic) NIC="${2:?--nic needs a PCI address or a vdev}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "deploy.sh: unknown option $1" >&2; usage ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ ${#ARGS[@]} -ge 1 ] && [ ${#ARGS[@]} -le 2 ] || usage
SERVICE_CIDR="${ARGS[0]}"
DOMAIN="${ARGS[1]:-cluster.local}"
DOMAIN="${DOMAIN%.}"
[[ "$REPLICAS" =~ ^[0-9]+$ ]] || { echo "deploy.sh: bad --replicas $REPLICAS" >&2; exit 1; }
if [ $DPDK = 1 ] && [ -z "$NIC" ]; then
  echo "deploy.sh: --dpdk needs --nic: a PCI address (0000:03:00.0) or an AF_XDP vdev (net_af_xdp0,iface=eth1)" >&2
  exit 1
fi
if [ $DPDK = 0 ] && [ -n "$NIC" ]; then
  echo "deploy.sh: --nic goes with --dpdk" >&2
  exit 1
fi

# An IPv4 address or CIDR: four octets of at most 255, a prefix of at most 32.
valid_ipv4() {
  local o
  [[ "$1" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(/([0-9]{1,2}))?$ ]] || return 1
  for o in "${BASH_REMATCH[@]:1:4}"; do [ "$o" -le 255 ] || return 1; done
  [ -z "${BASH_REMATCH[6]}" ] || [ "${BASH_REMATCH[6]}" -le 32 ]
}

# The 10th address of an IPv4 CIDR.
tenth_address() {
  local cidr="$1" ip prefix a b c d n
  ip="${cidr%/*}"
  prefix="${cidr#*/}"
  if [[ "$cidr" != */* ]] || ! valid_ipv4 "$cidr" || [ "$prefix" -gt 28 ]; then
    return 1
  fi
  IFS=. read -r a b c d <<<"$ip"
  n=$(( (a << 24 | b << 16 | c << 8 | d) & (0xffffffff << (32 - prefix)) & 0xffffffff ))
  n=$(( n + 10 ))
  echo "$(( n >> 24 & 255 )).$(( n >> 16 & 255 )).$(( n >> 8 & 255 )).$(( n & 255 ))"
}

if [ -z "$DNS_IP" ] && command -v kubectl >/dev/null 2>&1; then
  DNS_IP="$(kubectl get service --namespace kube-system kube-dns \
    -o jsonpath='{.spec.clusterIP}' 2>/dev/null || true)"
fi
if [ -n "$DNS_IP" ] && ! valid_ipv4 "$DNS_IP" &&
   ! { [[ "$DNS_IP" =~ ^[0-9a-fA-F:]+$ ]] && [[ "$DNS_IP" == *:* ]]; }; then
  echo "deploy.sh: --dns-ip $DNS_IP is not an IP address" >&2
  exit 1
fi
if [ -z "$DNS_IP" ]; then
  DNS_IP="$(tenth_address "$SERVICE_CIDR")" || {
    echo "deploy.sh: cannot derive the DNS address from '$SERVICE_CIDR' (an IPv4 CIDR up to /28); use --dns-ip" >&2
    exit 1
  }
fi

LABELS='k8s-app: kube-dns'
VARIANT=""
[ $DPDK = 1 ] && VARIANT=", dedicated NIC nodes"

cat <<EOF
# warpdns for cluster domain ${DOMAIN}, service range ${SERVICE_CIDR}, DNS address ${DNS_IP}${VARIANT}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: warpdns
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  labels:
    kubernetes.io/bootstrapping: rbac-defaults
  name: system:warpdns
rules:
- apiGroups:
  - ""
  resources:
  - endpoints
  - services
  - pods
  - namespaces
  verbs:
  - list
  - watch
- apiGroups:
  - discovery.k8s.io
  resources:
  - endpointslices
  verbs:
  - list
  - watch
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  annotations:
    rbac.authorization.kubernetes.io/autoupdate: "true"
  labels:
    kubernetes.io/bootstrapping: rbac-defaults
  name: system:warpdns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:warpdns
subjects:
- kind: ServiceAccount
  name: warpdns
  namespace: kube-system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: warpdns
  namespace: kube-system
data:
  Corefile: |
EOF
if [ $DPDK = 1 ]; then
  # A PCI device is the only one EAL probes; a vdev needs no PCI scan. The
  # address is the node's, from the pod's environment (status.hostIP).
  if [[ "$NIC" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
    EAL="--in-memory -a ${NIC}"
  else
    EAL="--in-memory --no-pci"
  fi
  cat <<EOF
    {
        io dpdk {
            eal ${EAL}
            port ${NIC} address {\$WARPDNS_NODE_IP}
            exception tap wdns0
        }
    }
EOF
fi
cat <<EOF
    .:53 {
        errors
        health {
            lameduck 5s
        }
        ready
        kubernetes ${DOMAIN} in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        prometheus :9153
        forward . /etc/resolv.conf {
            max_concurrent 1000
        }
        cache 30
        loop
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: warpdns
  namespace: kube-system
  labels:
    ${LABELS}
    kubernetes.io/name: warpdns
spec:
  replicas: ${REPLICAS}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
  selector:
    matchLabels:
      ${LABELS}
  template:
    metadata:
      labels:
        ${LABELS}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: warpdns
      tolerations:
      - key: CriticalAddonsOnly
        operator: Exists
EOF
if [ $DPDK = 1 ]; then
  cat <<EOF
      - key: warpdns.io/dpdk
        operator: Exists
        effect: NoSchedule
      nodeSelector:
        kubernetes.io/os: linux
        warpdns.io/dpdk: "true"
      # The NIC is the node's: DNS is served on the node's own addresses.
      hostNetwork: true
      dnsPolicy: Default
EOF
else
  cat <<EOF
      nodeSelector:
        kubernetes.io/os: linux
      dnsPolicy: Default
EOF
fi
cat <<EOF
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector:
                matchExpressions:
                - key: k8s-app
                  operator: In
                  values: ["kube-dns"]
              topologyKey: kubernetes.io/hostname
      containers:
      - name: warpdns
        image: ${IMAGE}
        imagePullPolicy: IfNotPresent
        args: [ "-conf", "/etc/warpdns/Corefile" ]
EOF
if [ $DPDK = 1 ]; then
  cat <<EOF
        env:
        # The address the NIC answers on: the node's (hostNetwork).
        - name: WARPDNS_NODE_IP
          valueFrom:
            fieldRef:
              fieldPath: status.hostIP
        resources:
          limits:
            memory: 1Gi
            hugepages-2Mi: 1Gi
          requests:
            cpu: "2"
            memory: 1Gi
            hugepages-2Mi: 1Gi
        volumeMounts:
        - name: config-volume
          mountPath: /etc/warpdns
          readOnly: true
        - name: hugepages
          mountPath: /dev/hugepages
        - name: vfio
          mountPath: /dev/vfio
        - name: sys
          mountPath: /sys
          readOnly: true
        - name: dpdk-run
          mountPath: /var/run/dpdk
        securityContext:
          # The container runtime's device rules keep /dev/vfio closed to an
          # unprivileged container whatever its capabilities; with a device
          # plugin for the NIC (SR-IOV) this can be capabilities only:
          # IPC_LOCK, NET_ADMIN, NET_RAW, NET_BIND_SERVICE, SYS_ADMIN, BPF.
          privileged: true
          readOnlyRootFilesystem: true
EOF
else
  cat <<EOF
        resources:
          limits:
            memory: 170Mi
          requests:
            cpu: 100m
            memory: 70Mi
        volumeMounts:
        - name: config-volume
          mountPath: /etc/warpdns
          readOnly: true
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            add:
            - NET_BIND_SERVICE
            drop:
            - ALL
          readOnlyRootFilesystem: true
EOF
fi
cat <<EOF
        ports:
        - containerPort: 53
          name: dns
          protocol: UDP
        - containerPort: 53
          name: dns-tcp
          protocol: TCP
        - containerPort: 9153
          name: metrics
          protocol: TCP
        livenessProbe:
          httpGet:
            path: /health
            port: 8080
            scheme: HTTP
          initialDelaySeconds: 60
          timeoutSeconds: 5
          successThreshold: 1
          failureThreshold: 5
        readinessProbe:
          httpGet:
            path: /ready
            port: 8181
            scheme: HTTP
      volumes:
      - name: config-volume
        configMap:
          name: warpdns
          items:
          - key: Corefile
            path: Corefile
EOF
if [ $DPDK = 1 ]; then
  cat <<EOF
      - name: hugepages
        emptyDir:
          medium: HugePages
      - name: vfio
        hostPath:
          path: /dev/vfio
      - name: sys
        hostPath:
          path: /sys
      - name: dpdk-run
        emptyDir: {}
EOF
fi
cat <<EOF
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  annotations:
    prometheus.io/port: "9153"
    prometheus.io/scrape: "true"
  labels:
    ${LABELS}
    kubernetes.io/cluster-service: "true"
    kubernetes.io/name: warpdns
spec:
  selector:
    ${LABELS}
  clusterIP: ${DNS_IP}
  ports:
  - name: dns
    port: 53
    protocol: UDP
  - name: dns-tcp
    port: 53
    protocol: TCP
  - name: metrics
    port: 9153
    protocol: TCP
EOF
