#!/bin/sh
# The example app: writes an access-style line every second and, now and then, an error
# with a Java stack trace, into files on the volume it shares with the Sluice sidecar.
# It rotates its own file the way logrotate's "create" does (rename, then a new file).
set -eu
dir=/var/log/app
n=0
while :; do
  n=$((n + 1))
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  echo "$now INFO GET /products/$n 200 $((n % 97))ms" >> "$dir/web.log"
  if [ $((n % 20)) -eq 0 ]; then
    {
      echo "$now ERROR payment $n failed"
      echo "java.lang.IllegalStateException: card declined"
      echo "	at shop.Payments.charge(Payments.java:42)"
      echo "	at shop.Checkout.run(Checkout.java:17)"
    } >> "$dir/payments.log"
  fi
  if [ $((n % 600)) -eq 0 ]; then
    mv "$dir/web.log" "$dir/web.log.1"
  fi
  sleep 1
done
