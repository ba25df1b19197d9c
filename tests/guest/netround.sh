#!/bin/sh
# The guest half of the lab's virtio-net round (tests/lab/suite.sh):
#   netround HOST_ADDR GUEST_ADDR
# ping, 32 MiB each way with nettest (host side: recv 5001, then send to
# 5002), the features the driver took, then the driver unbinds and binds
# again (a device reset; its MSI-X vectors masked and unmasked) and the
# guest pings once more.
host=$1 me=$2
ip addr add "$me/16" dev eth0
ip link set eth0 up
ping -c 3 -W 5 "$host"
nettest send "$host" 5001 32 11
nettest recv 5002
sed 's/^/NETFEATURES:/' /sys/bus/virtio/devices/*/features
d=$(basename "$(readlink /sys/class/net/eth0/device)")
echo "$d" >/sys/bus/virtio/drivers/virtio_net/unbind
echo "$d" >/sys/bus/virtio/drivers/virtio_net/bind
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 0.5; done
ip addr add "$me/16" dev eth0
ip link set eth0 up
ping -c 3 -W 5 "$host" | sed 's/^/REBOUND /'
