"""The media store's SQL, in one place so that each statement can be read as a whole."""

GET = """
SELECT media_id, project_key, session_id, content_type, size, sha256, width, height, created_at
FROM media.images WHERE media_id = $1
"""

# A repeated request (or two replicas racing on one) inserts nothing: the first row stays.
INSERT = """
INSERT INTO media.images
    (media_id, project_key, session_id, content_type, size, sha256, width, height, filename,
     created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (media_id) DO NOTHING
"""

DELETE_SESSION = """
DELETE FROM media.images WHERE project_key = $1 AND session_id = $2 RETURNING media_id
"""

FILE_GET = """
SELECT media_id, project_key, session_id, name, content_type, size, sha256, created_at
FROM media.files WHERE media_id = $1
"""

# As INSERT: the first row of a media id stays.
FILE_INSERT = """
INSERT INTO media.files
    (media_id, project_key, session_id, name, content_type, size, sha256, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (media_id) DO NOTHING
"""

FILE_DELETE_SESSION = """
DELETE FROM media.files WHERE project_key = $1 AND session_id = $2 RETURNING media_id
"""
