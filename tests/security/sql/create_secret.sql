-- Register credentials.
CREATE SECRET stolen (TYPE s3, KEY_ID 'x', SECRET 'y')
