#!/bin/sh
uname -a; ls -la /dev/kvm; armvm version
