//! The administration commands `adduser`, `deluser` and `users`: they work on ROOT directly, no
//! server needed. A running server picks up the changes (it reads users.json, which is always
//! replaced whole, never edited in place).
//!
//! Two admin commands run at the same moment could each read users.json, change it and save it,
//! and the second save would undo the first. Run them one at a time.

use std::fs;
use std::io;
use std::path::Path;

use super::scram::{self, MAX_ITERATIONS, MIN_ITERATIONS};
use super::users::{
    create_private_dir_all, disk_usage, home_dir, valid_user_name, UserStore, UsersError, HOMES_DIR,
};

/// Creates the user or updates it (new password, new quota), and creates its home (0700).
/// An existing home and its files are kept.
pub fn add_user(
    root: &Path,
    name: &str,
    password: &str,
    quota: u64,
    iterations: u32,
) -> Result<(), UsersError> {
    if !valid_user_name(name) {
        return Err(UsersError::BadName(name.to_string()));
    }
    if password.is_empty() {
        return Err(UsersError::EmptyPassword);
    }
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(UsersError::BadIterations {
            got: iterations,
            min: MIN_ITERATIONS,
            max: MAX_ITERATIONS,
        });
    }
    let mut store = UserStore::load(root)?;
    create_home(root, name)?;
    store.upsert(name, scram::new_record(password, iterations, quota));
    store.save()
}

/// Removes the user's record. Its home and files are KEPT (deleting someone's files is not
/// something to do by accident): remove `ROOT/home/NAME` yourself if you mean it. Adding the
/// same name again gives the files back to the new account.
pub fn delete_user(root: &Path, name: &str) -> Result<(), UsersError> {
    if !valid_user_name(name) {
        return Err(UsersError::BadName(name.to_string()));
    }
    let mut store = UserStore::load(root)?;
    if store.remove(name).is_none() {
        return Err(UsersError::NoSuchUser(name.to_string()));
    }
    store.save()
}

/// One line of `14-ftp users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub name: String,
    pub quota: u64,
    /// Bytes stored under the home now (0 if the home does not exist).
    pub used: u64,
}

/// Every user with its quota and the space it uses, sorted by name.
pub fn list_users(root: &Path) -> Result<Vec<UserSummary>, UsersError> {
    let store = UserStore::load(root)?;
    let mut summaries = Vec::with_capacity(store.len());
    for name in store.names() {
        let home = home_dir(root, name);
        let used = disk_usage(&home).map_err(|source| UsersError::Read { path: home, source })?;
        summaries.push(UserSummary {
            name: name.to_string(),
            quota: store.user(name).map_or(0, |r| r.quota),
            used,
        });
    }
    Ok(summaries)
}

/// Creates ROOT/home/NAME (and ROOT/home) if needed, owner-only. Refuses to adopt something that
/// is not a plain directory, e.g. a symlink someone planted to point the home elsewhere.
fn create_home(root: &Path, name: &str) -> Result<(), UsersError> {
    let homes = root.join(HOMES_DIR);
    let home = home_dir(root, name);
    for dir in [root, homes.as_path(), home.as_path()] {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) if dir == root => continue, // ROOT itself may be a symlink the admin made
            Ok(_) => return Err(UsersError::HomeNotDir(dir.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(UsersError::Read {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
        create_private_dir_all(dir).map_err(|source| UsersError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}
