-- Open311 GET requests.json: a client's own complaints by date.
CREATE INDEX reports_client_received ON reports (client_id, received_at) WHERE tracking_no IS NOT NULL;
